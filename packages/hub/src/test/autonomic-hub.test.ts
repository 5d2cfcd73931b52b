// The hub's loop on itself, with a real SQLite file and real ingest over MQTT, on a fake clock:
// a store over its (tiny) budget tightens raw retention, prunes and opens an incident, then
// undoes it when the store is back under budget; a stalled writer makes the ingest backlog grow,
// backpressure holds telemetry acknowledgements (an alarm from another device still passes) and
// lets go when the writer recovers: every reading stored, none lost.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import { MAX_READINGS_PER_MESSAGE } from '@homeostat/protocol';
import { openSqliteStore, type SqlStore } from '../store/sql-store.js';
import type { Store } from '../store/store.js';
import { startTestHub, type TestHub, until } from './harness.js';

const DAY_MS = 86_400_000;
const NOW = 1_800_000_000_000;

/** Value of one sample of /metrics, or undefined. */
async function metric(t: TestHub, name: string, labels = ''): Promise<number | undefined> {
  const text = (await t.api('GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/** The readings of a telemetry message: `count` readings of one metric from seq `from`, at `ts`. */
function readings(from: number, count: number, ts: number) {
  return Array.from({ length: count }, (_, i) => ({
    seq: from + i,
    ts: ts + i,
    metrics: { temperature: 20 + (i % 7) / 10 },
  }));
}

describe('autonomic: the hub on itself', () => {
  let t: TestHub | undefined;
  const cleanup: (() => Promise<void> | void)[] = [];

  /** A real SQLite store whose telemetry writes wait until `release`: a disk that stops answering. */
  async function stallableStore(): Promise<{ store: Store; real: SqlStore; release: () => void }> {
    const dir = mkdtempSync(join(tmpdir(), 'homeostat-hub-'));
    const real = await openSqliteStore(join(dir, 'hub.db'));
    cleanup.push(async () => {
      await real.close();
      rmSync(dir, { recursive: true, force: true });
    });
    let release: () => void = () => {};
    let stalled: Promise<void> | null = new Promise((r) => {
      release = r;
    });
    const store = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'insertReadings') {
          return async (...args: Parameters<Store['insertReadings']>) => {
            if (stalled) await stalled;
            return target.insertReadings(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Store;
    return {
      store,
      real,
      release: () => {
        stalled = null;
        release();
      },
    };
  }

  /** Applies a backlog policy small enough for a few readings, as an operator would over the shipped one. */
  async function backlogPolicy(hub: TestHub, withinMs: number): Promise<void> {
    const put = await hub.api('PUT', '/api/v1/policies/hub-ingest-backlog', {
      spec: {
        property: 'self-optimization',
        scope: 'hub',
        trigger: { kind: 'hub', metric: 'ingest-backlog', above: 15, clearAt: 0 },
        analysis: { symptom: 'ingest-backlog' },
        plan: [{ action: 'backpressure', maxHoldMs: 30_000, admitBelow: 5 }],
        verify: { check: 'cleared', withinMs },
        cooldownMs: 60_000,
      },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
  afterEach(async () => {
    await t?.close();
    t = undefined;
    for (const c of cleanup.splice(0)) await c();
  });

  test('a store over its budget: raw retention tightened and pruned, an incident, undone once under budget', async () => {
    const clock = new FakeClock(NOW);
    // Manual samples only (hubSampleMs far away): the test says when the hub looks at itself.
    t = await startTestHub({ storeBudgetBytes: 1024 * 1024, hubSampleMs: 3_600_000 }, { clock });
    const store = t.hub.services.store;
    const empty = await store.sizeBytes();
    assert.ok(empty < 0.8 * 1024 * 1024, `an empty store takes ${empty} bytes`);
    const token = await t.createDevice('probe-01');
    const device = await t.mqtt({ clientId: 'probe-01', username: 'probe-01', password: token });
    assert.ok(MAX_READINGS_PER_MESSAGE >= 1000);
    // Three days old: kept under the configured week, not under a tightened day.
    for (let m = 0; m < 20; m++) {
      const payload = JSON.stringify(readings(m * 1000, 1000, NOW - 3 * DAY_MS + m * 1000));
      await device.publishAsync('homeostat/v1/probe-01/telemetry', payload, { qos: 1 });
    }
    const full = await store.sizeBytes();
    assert.ok(full > 0.9 * 1024 * 1024, `20000 readings take ${full} bytes`);

    await t.hub.sampleSelf();
    await t.hub.autonomic.idle();
    assert.deepEqual((await t.api('GET', '/api/v1/decisions?policy=hub-store-budget')).body.items, []);
    await clock.advance(60_000); // held for forMs
    await t.hub.sampleSelf();
    await t.hub.autonomic.idle();
    const [d] = (await t.api('GET', '/api/v1/decisions?policy=hub-store-budget')).body.items;
    assert.ok(d, 'a decision');
    assert.equal(d.state, 'succeeded', d.explanation);
    assert.equal(d.degree, 'act');
    assert.deepEqual(d.devices, []);
    assert.equal(d.trigger.kind, 'hub');
    assert.equal(d.trigger.device, null);
    assert.match(d.trigger.summary, /^the hub's store-budget-ratio is \d\.\d+, over 0\.9$/);
    assert.equal(d.trigger.evidence.storeBudgetBytes, 1024 * 1024);
    assert.deepEqual(
      d.actions.map((a: { action: string; state: string }) => `${a.action} ${a.state}`),
      ['tighten-retention done', 'open-incident done'],
    );
    assert.match(
      d.actions[0].result,
      /raw readings kept 1 d \(configured: longer\); older ones pruned now, rollups kept/,
    );
    assert.equal(d.verification.check, 'cleared');
    assert.equal(d.verification.outcome, 'pending');
    const incident = (await t.api('GET', `/api/v1/incidents/${d.incident}`)).body;
    assert.equal(incident.title, "the hub's store is near its budget");
    assert.equal(incident.symptom, 'store-filling');
    // Pruned: the three-day-old readings are gone, and the store is back under its budget.
    assert.deepEqual(await store.queryReadings('probe-01', 'temperature', 0, NOW, 10), []);
    assert.ok((await store.sizeBytes()) < 0.8 * 1024 * 1024);
    assert.equal(await metric(t, 'homeostat_telemetry_raw_retention_seconds'), 86_400);
    assert.equal(await metric(t, 'homeostat_hub_mode', '{mode="tighten-retention"}'), 1);
    assert.ok(((await metric(t, 'homeostat_hub_signal', '{metric="store-budget-ratio"}')) ?? 0) > 0.9);

    // The next sample sees the store under 80%: the symptom cleared, the retention is as configured.
    await clock.advance(5000);
    await t.hub.sampleSelf();
    await t.hub.autonomic.idle();
    const cleared = (await t.api('GET', `/api/v1/decisions/${d.id}`)).body;
    assert.equal(cleared.state, 'verified', cleared.explanation);
    assert.equal(cleared.verification.outcome, 'verified');
    assert.deepEqual(
      cleared.actions.map(
        (a: { action: string; params: { undo?: boolean } }) => `${a.action}${a.params.undo ? ' undo' : ''}`,
      ),
      ['tighten-retention', 'open-incident', 'tighten-retention undo'],
    );
    assert.match(
      cleared.explanation,
      /3\. undo: keep raw readings as configured again: done at .*: raw readings kept 7 d again, as configured/,
    );
    assert.match(cleared.explanation, /Verification: expected that the symptom clears by .*: verified/);
    assert.equal(await metric(t, 'homeostat_telemetry_raw_retention_seconds'), 7 * 86_400);
    assert.equal(await metric(t, 'homeostat_hub_mode', '{mode="tighten-retention"}'), 0);
    const autonomy = (await t.api('GET', '/api/v1/autonomy')).body;
    const healing = autonomy.status.record.find((r: { property: string }) => r.property === 'self-healing');
    assert.equal(healing.acted, 1);
  });

  test('a stalled writer: backpressure holds telemetry acknowledgements, alarms pass, all stored once it lets go', async () => {
    const clock = new FakeClock(NOW);
    const { store, real, release } = await stallableStore();
    t = await startTestHub({ hubSampleMs: 3_600_000 }, { clock, store });
    // The shipped policy, tuned down to this test's few readings by applying one of the same name.
    await backlogPolicy(t, 600_000);
    const sensor = await t.mqtt({
      clientId: 'sensor-01',
      username: 'sensor-01',
      password: await t.createDevice('sensor-01'),
    });
    const pump = await t.mqtt({ clientId: 'pump-01', username: 'pump-01', password: await t.createDevice('pump-01') });
    const acked: string[] = [];
    const send = (name: string, seq: number) =>
      sensor
        .publishAsync('homeostat/v1/sensor-01/telemetry', JSON.stringify(readings(seq, 10, NOW - 1000)), { qos: 1 })
        .then(() => acked.push(name));

    const a = send('a', 0);
    await until(() => backlog() >= 10, 10_000, 'the first write to stall');
    const b = send('b', 10);
    await until(() => backlog() >= 20, 10_000, 'a second message to queue behind it');
    await t.hub.sampleSelf();
    await t.hub.autonomic.idle();
    const [d] = (await t.api('GET', '/api/v1/decisions?policy=hub-ingest-backlog')).body.items;
    assert.equal(d.state, 'succeeded', d.explanation);
    assert.equal(d.property, 'self-optimization');
    assert.match(
      d.actions[0].result,
      /^backpressure on: telemetry acknowledgements wait \(at most 30000 ms\) while 5 readings/,
    );
    assert.equal(await metric(t, 'homeostat_hub_mode', '{mode="backpressure"}'), 1);

    // A new telemetry message waits, unacknowledged, before the writer's queue.
    const c = send('c', 20);
    await until(async () => (await metric(t as TestHub, 'homeostat_ingest_backpressure_held')) === 1, 10_000, 'c held');
    // An alarm from another device is acknowledged and stored meanwhile.
    await pump.publishAsync(
      'homeostat/v1/pump-01/events',
      JSON.stringify({ seq: 1, type: 'alarm', code: 'BEARING_WEAR', message: 'worn' }),
      { qos: 1 },
    );
    const events = (await t.api('GET', '/api/v1/events?device=pump-01')).body.items;
    assert.ok(events.some((e: { code: string }) => e.code === 'BEARING_WEAR'));
    assert.deepEqual(acked, []);
    assert.equal(backlog(), 20, 'c is not queued: the device keeps it');

    // The writer recovers: a and b are written, the queue is short, c goes on; all acknowledged.
    release();
    await Promise.all([a, b, c]);
    assert.deepEqual(acked.sort(), ['a', 'b', 'c']);
    assert.equal(await metric(t, 'homeostat_ingest_backpressure_held_total'), 1);
    assert.equal(await metric(t, 'homeostat_ingest_backpressure_released_total', '{reason="backlog"}'), 1);
    const stored = await real.queryReadings('sensor-01', 'temperature', 0, NOW, 100);
    assert.equal(stored.length, 30);

    await until(() => backlog() === 0, 10_000, 'the backlog to drain');
    await t.hub.sampleSelf();
    await t.hub.autonomic.idle();
    const cleared = (await t.api('GET', `/api/v1/decisions/${d.id}`)).body;
    assert.equal(cleared.state, 'verified', cleared.explanation);
    assert.match(cleared.actions[1].result, /^backpressure released/);
    assert.equal(await metric(t, 'homeostat_hub_mode', '{mode="backpressure"}'), 0);
    // Released, telemetry is acknowledged at once again.
    await send('d', 30);
    assert.equal(await metric(t, 'homeostat_ingest_backpressure_held_total'), 1);

    function backlog(): number {
      return Number(t?.hub.ingestBacklog ?? -1);
    }
  });

  test('a backlog that does not clear in time escalates; the backpressure is still undone once it clears', async () => {
    const clock = new FakeClock(NOW);
    const { store, release } = await stallableStore();
    t = await startTestHub({ hubSampleMs: 3_600_000 }, { clock, store });
    await backlogPolicy(t, 1000);
    const token = await t.createDevice('sensor-02');
    const sensor = await t.mqtt({ clientId: 'sensor-02', username: 'sensor-02', password: token });
    const sent = [0, 10].map((seq) =>
      sensor.publishAsync('homeostat/v1/sensor-02/telemetry', JSON.stringify(readings(seq, 10, NOW - 1000)), {
        qos: 1,
      }),
    );
    await until(() => (t?.hub.ingestBacklog ?? 0) >= 20, 10_000, 'the backlog to build');
    await t.hub.sampleSelf();
    await t.hub.autonomic.idle();
    const [d] = (await t.api('GET', '/api/v1/decisions?policy=hub-ingest-backlog')).body.items;
    assert.equal(d.state, 'succeeded');
    await clock.advance(2000); // past the verification deadline, on the manager's tick
    await t.hub.autonomic.idle();
    const escalated = (await t.api('GET', `/api/v1/decisions/${d.id}`)).body;
    assert.equal(escalated.state, 'escalated', escalated.explanation);
    assert.match(
      escalated.verification.detail,
      /expected effect not seen by the deadline: the symptom has not cleared: ingest-backlog is 20/,
    );
    const incident = (await t.api('GET', `/api/v1/incidents/${escalated.incident}`)).body;
    assert.equal(incident.severity, 'critical');

    release();
    await Promise.all(sent);
    await until(() => t?.hub.ingestBacklog === 0, 10_000, 'the backlog to drain');
    await t.hub.sampleSelf();
    await t.hub.autonomic.idle();
    const undone = (await t.api('GET', `/api/v1/decisions/${d.id}`)).body;
    assert.equal(undone.state, 'escalated');
    assert.equal(undone.actions.at(-1).params.undo, true);
    assert.match(undone.actions.at(-1).result, /^backpressure released/);
    assert.equal(await metric(t, 'homeostat_hub_mode', '{mode="backpressure"}'), 0);
  });
});
