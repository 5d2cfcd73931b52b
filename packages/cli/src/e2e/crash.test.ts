// Acknowledged means stored: agents stream telemetry to a hub process that is killed with
// SIGKILL mid-stream and started again on the same data. Every reading the devices made is
// stored exactly once: nothing acknowledged is lost, nothing resent is stored twice.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Agent } from '@homeostat/agent';
import { PumpHardware } from '@homeostat/sim';
import { waitFor } from '@homeostat/testing';
import { api, removeTempDirs, sleep, startCli, tempDir, waitForHubBanner } from './processes.js';

const ADMIN = 'crash-test-admin-token-0123';
const DEVICES = ['pump-k1', 'pump-k2', 'pump-k3'];

after(() => removeTempDirs());

test('SIGKILL of the hub mid-stream loses no acknowledged reading and stores none twice', async (t) => {
  const data = tempDir('hub');
  const env = { HOMEOSTAT_ADMIN_TOKEN: ADMIN };
  const first = await waitForHubBanner(
    startCli(t, ['hub', '--http-port', '0', '--mqtt-port', '0', '--data', data], { env }),
  );
  const ports = [new URL(first.httpUrl).port, new URL(first.mqttUrl).port] as const;
  const agents = new Map<string, { agent: Agent; made: number }>();
  for (const name of DEVICES) {
    const created = await api(first.httpUrl, ADMIN, 'POST', '/api/v1/devices', { name });
    const agent = new Agent({
      hubUrl: first.mqttUrl,
      id: name,
      token: created.body.token,
      dataDir: tempDir(name),
      hardware: new PumpHardware(),
      heartbeatMs: 200,
      sampleMs: 3_600_000, // the test samples itself, so it knows how many readings exist
      backoff: { initialMs: 50, maxMs: 300 },
    });
    t.after(() => agent.stop());
    await agent.start();
    agents.set(name, { agent, made: 0 });
  }
  await waitFor(() => [...agents.values()].every((a) => a.agent.connected), { timeoutMs: 10_000 });

  // About 150 readings a second per device, through the kill and the restart.
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      for (const a of agents.values()) {
        a.agent.sampleNow();
        a.made++;
      }
      await sleep(7);
    }
  })();
  await sleep(1500);
  first.proc.child.kill('SIGKILL');
  await first.proc.waitForExit(5000);
  await sleep(700);
  const second = await waitForHubBanner(
    startCli(t, ['hub', '--http-port', ports[0], '--mqtt-port', ports[1], '--data', data], { env }),
  );
  await sleep(1000);
  sampling = false;
  await loop;
  await waitFor(() => [...agents.values()].every((a) => a.agent.connected && a.agent.outboxSize === 0), {
    timeoutMs: 20_000,
    message: 'every outbox drained',
  });

  for (const [name, a] of agents) {
    const r = await api(
      second.httpUrl,
      ADMIN,
      'GET',
      `/api/v1/devices/${name}/telemetry?metric=flow&from=0&limit=10000`,
    );
    const seqs = (r.body.points as { seq: number }[]).map((p) => p.seq);
    assert.ok(a.made > 200, `${name} made ${a.made} readings`);
    assert.equal(new Set(seqs).size, seqs.length, `${name}: no reading stored twice`);
    assert.equal(seqs.length, a.made, `${name}: every reading stored (made ${a.made}, stored ${seqs.length})`);
  }
});
