// A device that dies mid-drain loses nothing and stores nothing twice: an agent process builds a
// backlog in its SQLite outbox while the hub is unreachable (a proxy refusing connections), the
// hub comes back, and the agent is killed with SIGKILL after the hub has stored part of the
// backlog. Restarted on the same data directory, it sends the rest; the hub then holds every seq
// the device made, from 1 to the last, exactly once.
//
// The hub and the agent are real `homeostat` processes; the proxy is in the test, so the outage and
// the pace of the drain are the test's. Every wait polls a condition (the outbox file, the hub's
// telemetry API) under a generous deadline, so a loaded machine makes the test slower, not flaky.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type FaultyProxy, startFaultyProxy, waitFor } from '@homeostat/testing';
import Database from 'better-sqlite3';
import { api, type CliProcess, removeTempDirs, startCli, tempDir, waitForHubBanner } from './processes.js';

const ADMIN = 'agent-crash-test-admin-token-0123';
const DEVICE = 'pump-sigkill';
/** Readings queued while the hub is unreachable (a reading every 10 ms: a few seconds). */
const BACKLOG = 400;
/** Every chunk through the proxy waits this long once the hub is back, so the drain takes seconds. */
const DRAIN_DELAY_MS = 25;
const DEADLINE_MS = 30_000;

after(() => removeTempDirs());

/** What the agent's outbox file says, read-only (SQLite WAL lets a reader in beside the writer). */
function readOutbox(dataDir: string): { queued: number; lastSeq: number } {
  const db = new Database(join(dataDir, 'outbox.db'), { readonly: true, fileMustExist: true });
  try {
    const queued = (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
    const next = db.prepare("SELECT value FROM meta WHERE key = 'seq.next'").get() as { value: string } | undefined;
    return { queued, lastSeq: Number(next?.value ?? '1') - 1 };
  } finally {
    db.close();
  }
}

test('SIGKILL of the agent mid-drain: after a restart every reading it made is stored exactly once', async (t) => {
  const hubData = tempDir('hub');
  const hub = await waitForHubBanner(
    startCli(t, ['hub', '--http-port', '0', '--mqtt-port', '0', '--data', hubData], {
      env: { HOMEOSTAT_ADMIN_TOKEN: ADMIN },
    }),
  );
  const created = await api(hub.httpUrl, ADMIN, 'POST', '/api/v1/devices', { name: DEVICE });
  assert.equal(created.status, 201);
  const mqtt = new URL(hub.mqttUrl);
  const proxy: FaultyProxy = await startFaultyProxy({ target: { host: mqtt.hostname, port: Number(mqtt.port) } });
  t.after(() => proxy.close());
  proxy.cut(); // the outage: the hub is unreachable from the start

  const data = tempDir('agent');
  const agent = (sampleMs: number): CliProcess =>
    startCli(
      t,
      [
        'agent',
        ...['--hub', proxy.url, '--id', DEVICE, '--kind', 'pump', '--data', data],
        ...['--sample-ms', String(sampleMs), '--reconnect-max-ms', '200', '--log-level', 'warn'],
      ],
      { env: { HOMEOSTAT_DEVICE_TOKEN: created.body.token } },
    );
  const stored = async (): Promise<number[]> => {
    const r = await api(
      hub.httpUrl,
      ADMIN,
      'GET',
      `/api/v1/devices/${DEVICE}/telemetry?metric=flow&from=0&limit=10000`,
    );
    assert.equal(r.status, 200);
    return (r.body.points as { seq: number }[]).map((p) => p.seq);
  };

  // 1. The backlog, made while nothing reaches the hub.
  const first = agent(10);
  await waitFor(
    () => {
      if (first.exit !== null) throw new Error(`agent exited\n${first.describe()}`);
      try {
        return readOutbox(data).queued >= BACKLOG;
      } catch {
        return false; // the file is not there yet
      }
    },
    { timeoutMs: DEADLINE_MS, intervalMs: 50, message: `${BACKLOG} readings queued` },
  );
  assert.deepEqual(await stored(), [], 'nothing reached the hub during the outage');

  // 2. The hub is back, behind a slow link; once it has stored part of the backlog, SIGKILL.
  proxy.setDelay(DRAIN_DELAY_MS);
  proxy.restore();
  await waitFor(async () => (await stored()).length >= BACKLOG / 4, {
    timeoutMs: DEADLINE_MS,
    intervalMs: 20,
    message: 'a quarter of the backlog stored',
  });
  first.child.kill('SIGKILL');
  const killed = await first.exited;
  assert.equal(killed.signal, 'SIGKILL');
  const { queued, lastSeq } = readOutbox(data);
  const storedAtKill = await stored();
  assert.ok(lastSeq >= BACKLOG, `the device made ${lastSeq} readings`);
  assert.ok(queued > 0, 'the agent died with readings still queued');
  assert.ok(
    storedAtKill.length > 0 && storedAtKill.length < lastSeq,
    `mid-drain: ${storedAtKill.length} of ${lastSeq} stored when it died`,
  );

  // 3. Restarted on the same data, sampling out of the way (no new readings), over a fast link.
  proxy.setDelay(0);
  const second = agent(3_600_000);
  await waitFor(async () => (await stored()).length >= lastSeq, {
    timeoutMs: DEADLINE_MS,
    intervalMs: 100,
    message: `all ${lastSeq} readings stored`,
  });
  const seqs = await stored();
  const expected = Array.from({ length: lastSeq }, (_, i) => i + 1);
  assert.deepEqual(
    [...seqs].sort((a, b) => a - b),
    expected,
    'every seq from 1 to the last made, once each (no gap, no duplicate, nothing extra)',
  );
  await second.stop();
});
