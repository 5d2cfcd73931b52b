// The aggregate stage in the agent: configured by the desired state's `telemetry`, it sends a
// summary per window instead of every reading, raw readings while abnormal (with one alarm per
// abnormal episode), and reports the settings it runs (or why it refused them).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '@homeostat/testing';
import { harness } from './test-support.js';

test('desired telemetry settings switch the agent from raw readings to window summaries', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ sampleMs: 3_600_000 }); // samples only when the test says
  await agent.start();
  await waitFor(() => agent.connected);
  agent.sampleNow();
  await waitFor(() => h.hub.readings('dev-1').length === 1, { message: 'a raw reading' });
  assert.deepEqual(Object.keys(h.hub.readings('dev-1')[0]?.metrics ?? {}), ['temperature']);

  const settings = {
    mode: 'aggregate',
    window: { kind: 'tumbling', sizeMs: 10_000 },
    stats: ['min', 'max', 'avg', 'count'],
    rawWhen: [{ metric: 'temperature', above: 21.5, alarm: { code: 'TOO_WARM' } }],
  };
  await h.hub.publishDesired('dev-1', { version: 1, state: { setpoint: 20, telemetry: settings } });
  await waitFor(() => h.hub.of('dev-1', 'twin/reported').some((m) => JSON.stringify(m.json).includes('aggregate')));
  // 20 readings, one a second on the fake clock: 2 windows of 10.
  for (let i = 0; i < 20; i++) {
    await h.clock.advance(1000);
    agent.sampleNow();
  }
  await h.clock.advance(1000);
  agent.sampleNow(); // closes the second window
  await waitFor(
    () => h.hub.readings('dev-1').some((r) => (r.metrics['temperature.count'] ?? 0) >= 10) && agent.outboxSize === 0,
  );
  const readings = h.hub.readings('dev-1').slice(1);
  const summaries = readings.filter((r) => 'temperature.avg' in r.metrics);
  const raw = readings.filter((r) => 'temperature' in r.metrics);
  assert.ok(summaries.length >= 2, JSON.stringify(readings));
  assert.ok(summaries.every((s) => Object.keys(s.metrics).length === 4));
  // The fake thermostat climbs 0.1 °C per sample from 20.1: raw only above 21.5, i.e. the last few.
  assert.ok(raw.length > 0 && raw.length < 10, `raw while abnormal only (${raw.length})`);
  assert.ok(raw.every((r) => (r.metrics.temperature ?? 0) > 21.5));
  // One episode (the temperature only climbs): one alarm, on `events`, with its own seq.
  const alarms = h.hub.of('dev-1', 'events').map((m) => m.json as { type: string; code: string; seq: number });
  assert.deepEqual(
    alarms.map((a) => [a.type, a.code]),
    [['alarm', 'TOO_WARM']],
  );
  assert.ok(!readings.some((r) => r.seq === alarms[0]?.seq), 'the alarm takes a seq of its own');
});

test('invalid telemetry settings are refused, reported, and the agent keeps sending raw readings', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent();
  await agent.start();
  await waitFor(() => agent.connected);
  await h.hub.publishDesired('dev-1', {
    version: 1,
    state: { telemetry: { mode: 'aggregate', window: { kind: 'hopping', sizeMs: 1 } } },
  });
  const reported = await waitFor(() =>
    h.hub.of('dev-1', 'twin/reported').find((m) => JSON.stringify(m.json).includes('"error"')),
  );
  assert.match(JSON.stringify(reported.json), /window/);
  agent.sampleNow();
  await waitFor(() => h.hub.readings('dev-1').some((r) => 'temperature' in r.metrics));
});
