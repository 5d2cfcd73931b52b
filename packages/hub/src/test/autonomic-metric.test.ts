// A policy on a device's telemetry, end to end on a fake clock with a real broker and a SQLite
// file: a thermostat reports a temperature over the threshold for longer than forMs, the policy
// fires once (its decision carries the metric, stat, window, value, threshold and hold time; its
// actions are carried out), not again during its cooldown; a reading over and back under before
// forMs does not fire. Triggers that make no sense are refused at apply, with `path: message`.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FakeClock } from '@homeostat/kit';
import type { MqttClient } from 'mqtt';
import { startTestHub, type TestHub } from './harness.js';

const POLICY = {
  property: 'self-healing',
  scope: { selector: 'model=th-100' },
  trigger: { kind: 'metric', metric: 'temperature', stat: 'avg', windowMs: 3000, above: 30, clearAt: 28, forMs: 5000 },
  analysis: { symptom: 'room-too-hot' },
  plan: [
    { action: 'patch-desired', patch: { mode: 'cool' } },
    { action: 'open-incident', severity: 'warning' },
  ],
  cooldownMs: 600_000,
  rateLimit: { max: 5, perMs: 60_000 },
};

describe('autonomic: metric triggers', () => {
  let t: TestHub;
  let clock: FakeClock;

  beforeEach(async () => {
    clock = new FakeClock(1_800_000_000_000);
    t = await startTestHub({ heartbeatMs: 1000, hubPolicies: false }, { clock });
  });
  afterEach(() => t.close());

  const decisions = async (device: string) =>
    (await t.api('GET', `/api/v1/decisions?device=${device}`)).body.items as Record<string, unknown>[];

  /** A device online whose every reading is acknowledged (so committed) before the clock moves on. */
  async function thermostat(name: string) {
    const token = await t.createDevice(name, { model: 'th-100' }, { mode: 'heat' });
    const c: MqttClient = await t.online(name, token);
    let seq = 0;
    return async (temperature: number) => {
      const reading = { seq: seq++, ts: clock.now(), metrics: { temperature } };
      await c.publishAsync(`homeostat/v1/${name}/telemetry`, JSON.stringify([reading]), { qos: 1 });
      // Heartbeats keep it online while the clock moves.
      await c.publishAsync(`homeostat/v1/${name}/heartbeat`, '', { qos: 1 });
      await clock.advance(1000);
      await t.hub.autonomic.idle();
    };
  }

  test('held over the threshold past forMs: fires once with its evidence, acts, and not again in its cooldown', async () => {
    const put = await t.api('PUT', '/api/v1/policies/room-too-hot', { spec: POLICY });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const report = await thermostat('th-1');
    const blip = await thermostat('th-2');

    // Over and back under before forMs, on another thermostat: the average of its window is over
    // 30 for 3 s.
    for (const v of [40, 40, 20, 20, 20, 20, 20]) await blip(v);
    // The average of the last 3 s goes over 30 with the fourth reading, and stays over.
    for (const v of [25, 31, 32, 33, 33, 34]) await report(v);
    assert.equal((await decisions('th-1')).length, 0, 'over for 3 s only');
    for (const v of [34, 34, 34]) await report(v);

    const [d, ...more] = await decisions('th-1');
    assert.ok(d, 'a decision');
    assert.equal(more.length, 0);
    assert.equal(d.policy, 'room-too-hot');
    assert.equal(d.state, 'succeeded', String(d.explanation));
    const trigger = d.trigger as { kind: string; evidence: Record<string, unknown>; summary: string };
    assert.equal(trigger.kind, 'metric');
    assert.deepEqual(
      { ...trigger.evidence, value: undefined, samples: undefined },
      {
        metric: 'temperature',
        stat: 'avg',
        windowMs: 3000,
        value: undefined,
        threshold: 30,
        past: 'above',
        heldMs: 5000,
        samples: undefined,
      },
    );
    assert.ok((trigger.evidence.value as number) > 30);
    assert.match(trigger.summary, /th-1: the avg of temperature over 3 s is [\d.]+, over 30 for 5 s/);
    assert.deepEqual(
      (d.actions as { action: string; device: string; state: string }[]).map(
        (a) => `${a.action} ${a.device} ${a.state}`,
      ),
      ['patch-desired th-1 done', 'open-incident th-1 done'],
    );
    const desired = (await t.api('GET', '/api/v1/devices/th-1')).body.twin.desired.state;
    assert.equal(desired.mode, 'cool');
    const [incident] = (await t.api('GET', '/api/v1/incidents?device=th-1')).body.items;
    assert.equal(incident.symptom, 'room-too-hot');
    assert.equal((await decisions('th-2')).length, 0, 'the blip did not fire');

    // It clears, then runs hot again for longer than forMs, inside the cooldown: no second decision.
    for (const v of [20, 20, 20, 20]) await report(v);
    for (let i = 0; i < 8; i++) await report(35);
    assert.equal((await decisions('th-1')).length, 1);
  });

  test('a metric trigger that makes no sense is refused at apply, with the path of each problem', async () => {
    const put = (trigger: Record<string, unknown>) =>
      t.api('PUT', '/api/v1/policies/bad', { spec: { ...POLICY, trigger: { ...POLICY.trigger, ...trigger } } });
    const unknownStat = await put({ stat: 'median' });
    assert.equal(unknownStat.status, 400, JSON.stringify(unknownStat.body));
    assert.equal(unknownStat.body.error.code, 'ERR_VALIDATION');
    assert.match(unknownStat.body.error.details[0], /^body\/spec\/trigger\/stat: /);
    const negative = await put({ windowMs: -1 });
    assert.equal(negative.status, 400);
    assert.deepEqual(negative.body.error.details, [
      'body/spec/trigger/windowMs: Expected integer to be greater or equal to 1000',
    ]);
    const tooLong = await put({ windowMs: 86_400_000 });
    assert.equal(tooLong.status, 400);
    assert.deepEqual(tooLong.body.error.details, [
      'body/spec/trigger/windowMs: Expected integer to be less or equal to 3600000',
    ]);
    const badName = await put({ metric: 'temp erature' });
    assert.equal(badName.status, 400);
    assert.match(badName.body.error.details[0], /^body\/spec\/trigger\/metric: /);
    const neither = await put({ above: undefined, clearAt: undefined });
    assert.equal(neither.status, 422, JSON.stringify(neither.body));
    assert.deepEqual(neither.body.error.details, ['/spec/trigger: give exactly one of above and below']);
    const wrongSide = await put({ clearAt: 35 });
    assert.equal(wrongSide.status, 422);
    assert.deepEqual(wrongSide.body.error.details, [
      '/spec/trigger/clearAt: 35 is over the threshold 30: it must be at or under it',
    ]);
    const onHub = await t.api('PUT', '/api/v1/policies/bad', {
      spec: { ...POLICY, scope: 'hub', plan: [{ action: 'open-incident' }] },
    });
    assert.equal(onHub.status, 422, JSON.stringify(onHub.body));
    assert.deepEqual(onHub.body.error.details, [
      '/spec/trigger/kind: a policy of scope hub watches the hub: use kind hub, not metric',
    ]);
    assert.equal((await t.api('GET', '/api/v1/policies')).body.items.length, 0, 'nothing stored');
  });
});
