// The rule engine on hand-fed streams and explicit times, then the rule kind on a fake context.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, silentLogger } from '@homeostat/kit';
import type { RuleConfig, WindowStat } from '@homeostat/protocol';
import type { RaiseEventInput } from '../agent.js';
import type { ActuatorValue } from '../device/hardware.js';
import { FIRST_READING_STALE_MS, STALE_FLOOR_MS } from './condition.js';
import { type LocalStreams, type ModuleContext, ModuleDenied, ModuleRefused } from './module.js';
import { type RuleDecision, RuleEngine, type RuleSpec, ruleKind } from './rule.js';

/** Streams set by hand: the latest value of each, and window statistics by (metric, size, stat). */
class FakeStreams implements LocalStreams {
  readonly #latest = new Map<string, { value: number; ts: number }>();
  readonly #stats = new Map<string, number>();
  readonly statCalls: string[] = [];

  set(metric: string, value: number, ts: number): this {
    this.#latest.set(metric, { value, ts });
    return this;
  }

  setStat(metric: string, sizeMs: number, stat: WindowStat, value: number | undefined): this {
    if (value === undefined) this.#stats.delete(`${metric}/${sizeMs}/${stat}`);
    else this.#stats.set(`${metric}/${sizeMs}/${stat}`, value);
    return this;
  }

  latest(metric: string) {
    return this.#latest.get(metric);
  }

  stat(metric: string, sizeMs: number, stat: WindowStat, now: number) {
    this.statCalls.push(`${metric}/${sizeMs}/${stat}@${now}`);
    return this.#stats.get(`${metric}/${sizeMs}/${stat}`);
  }

  window() {
    return [];
  }
}

const heating: RuleConfig = {
  when: { metric: 'temperature', below: { metric: 'setpoint', offset: -0.25 } },
  until: { metric: 'temperature', above: { metric: 'setpoint', offset: 0.25 } },
  onActivate: [{ actuate: { actuator: 'heater', value: true } }],
  onDeactivate: [{ actuate: { actuator: 'heater', value: false } }],
};

/** Feeds `metric` = values[i] at i × stepMs (and the others given as constants), collecting transitions. */
function run(
  config: RuleConfig,
  metric: string,
  values: number[],
  stepMs: number,
  constants: Record<string, number> = {},
) {
  const engine = new RuleEngine(config);
  const streams = new FakeStreams();
  const decisions: RuleDecision[] = [];
  values.forEach((v, i) => {
    const ts = i * stepMs;
    streams.set(metric, v, ts);
    for (const [m, c] of Object.entries(constants)) streams.set(m, c, ts);
    const d = engine.evaluate(streams, ts);
    if (d !== null) decisions.push(d);
  });
  return { engine, decisions };
}

/** A deterministic noise in [−1, 1]. */
const noise = (i: number) => Math.sin(i * 7.3);

test('hysteresis: a noisy temperature crossing its setpoint switches once per swing, a level rule chatters', () => {
  // Three slow swings of 20 ± 1 °C, a reading every 10 s, with ±0.15 °C of sensor noise.
  const temps = Array.from({ length: 3 * 720 }, (_, i) => 20 - Math.cos((2 * Math.PI * i) / 720) + 0.15 * noise(i));
  const { decisions } = run(heating, 'temperature', temps, 10_000, { setpoint: 20 });
  assert.deepEqual(
    decisions.map((d) => d.to),
    ['active', 'inactive', 'active', 'inactive', 'active', 'inactive', 'active'],
  );
  for (const d of decisions) {
    const t = d.inputs[0]?.value ?? Number.NaN;
    assert.ok(d.to === 'active' ? t < 19.75 : t > 20.25, `${d.to} at ${t}`);
  }
  const level = run({ when: heating.when, onActivate: heating.onActivate }, 'temperature', temps, 10_000, {
    setpoint: 20,
  });
  assert.ok(level.decisions.length > 20, `without hysteresis: ${level.decisions.length} switches`);
});

test('minimum active and inactive times hold the latch, however the inputs move', () => {
  const config: RuleConfig = { ...heating, minActiveMs: 60_000, minInactiveMs: 120_000 };
  // 19 (on) at 0, 21 (off wanted) from 10 s, 19 (on wanted) from 70 s: a reading every 10 s.
  const temps = [19, ...Array(6).fill(21), ...Array(20).fill(19)];
  const { decisions } = run(config, 'temperature', temps, 10_000, { setpoint: 20 });
  assert.deepEqual(
    decisions.map((d) => [d.to, d.at]),
    [
      ['active', 0],
      ['inactive', 60_000],
      ['active', 180_000],
    ],
  );
});

test('forMs: the comparison must hold at every evaluation for that long, and a dip starts it over', () => {
  const config: RuleConfig = {
    when: { metric: 'battery', below: 25, forMs: 30_000 },
    until: { metric: 'battery', above: 95 },
    onActivate: [{ actuate: { actuator: 'mode', value: 'dock' } }],
  };
  // Every 5 s: 24 for 25 s, one 26, then 24 from 35 s on: active at 35 + 30 = 65 s.
  const battery = [24, 24, 24, 24, 24, 24, 26, ...Array(10).fill(24)];
  const { decisions } = run(config, 'battery', battery, 5_000);
  assert.deepEqual(
    decisions.map((d) => [d.to, d.at]),
    [['active', 65_000]],
  );
  assert.deepEqual(decisions[0]?.inputs, [
    { read: 'battery', value: 24, status: 'ok', below: 25, holds: true, heldMs: 30_000 },
  ]);
});

test('forMs under `any` sees its own interruptions even while a sibling holds', () => {
  const config: RuleConfig = {
    when: {
      any: [
        { metric: 'a', above: 0 },
        { metric: 'b', above: 0, forMs: 20_000 },
      ],
    },
    onActivate: [],
  };
  const engine = new RuleEngine(config);
  const s = new FakeStreams();
  const at = (ts: number, a: number, b: number) => engine.evaluate(s.set('a', a, ts).set('b', b, ts), ts);
  assert.equal(at(0, 1, 1)?.to, 'active', 'a holds');
  at(10_000, 1, 0); // b interrupted while a keeps the rule active
  at(20_000, 1, 1);
  assert.equal(at(30_000, 0, 1)?.to, 'inactive', 'b has held 10 s only, not 30');
  assert.equal(at(40_000, 0, 1)?.to, 'active', 'b has now held 20 s');
});

test('window statistics are read from the streams with their size and statistic', () => {
  const config: RuleConfig = {
    when: { metric: 'vibration', window: { sizeMs: 600_000, stat: 'p95' }, above: 7.1 },
    onActivate: [{ raise: { type: 'alarm', code: 'VIBRATION_HIGH', message: 'zone D' } }],
  };
  const engine = new RuleEngine(config);
  const s = new FakeStreams().set('vibration', 9, 1000).setStat('vibration', 600_000, 'p95', 5);
  assert.equal(engine.evaluate(s, 1000)?.to, 'inactive', 'p95 5 is below, whatever the latest reading');
  s.set('vibration', 2, 2000).setStat('vibration', 600_000, 'p95', 7.5);
  const d = engine.evaluate(s, 2000);
  assert.equal(d?.to, 'active');
  assert.deepEqual(d?.inputs, [{ read: 'p95(vibration, 600 s)', value: 7.5, status: 'ok', above: 7.1, holds: true }]);
  assert.deepEqual(s.statCalls, ['vibration/600000/p95@1000', 'vibration/600000/p95@2000']);
  // An empty window is no value; a count over an empty window is 0 (a silent sensor can be caught).
  s.setStat('vibration', 600_000, 'p95', undefined);
  assert.equal(engine.evaluate(s, 3000)?.to, 'inactive');
  const silence = new RuleEngine({
    when: { metric: 'flow', window: { sizeMs: 60_000, stat: 'count' }, below: 1 },
    onActivate: [],
  });
  assert.equal(silence.evaluate(new FakeStreams(), 0)?.to, 'active');
});

test('a stale or missing input makes its comparison false: no action on data that is not there', () => {
  const engine = new RuleEngine({ ...heating, staleAfterMs: 30_000 });
  const s = new FakeStreams();
  assert.equal(engine.evaluate(s, 0), null, 'nothing seen yet: undecided, nothing done');
  assert.deepEqual(engine.unavailable(), ['temperature (missing)', 'setpoint (missing)']);
  s.set('temperature', 19, 0).set('setpoint', 20, 0);
  assert.equal(engine.evaluate(s, 0)?.to, 'active');
  // The thermostat goes silent at 21 °C: the explicit `until` cannot hold on a stale reading.
  s.set('temperature', 19, 10_000);
  assert.equal(engine.evaluate(s, 10_000), null);
  s.set('temperature', 21, 50_000);
  assert.equal(engine.evaluate(s, 60_000), null, 'the setpoint is 60 s old: stale');
  assert.deepEqual(engine.unavailable(), ['setpoint (stale)']);
  s.set('setpoint', 20, 60_000);
  assert.equal(engine.evaluate(s, 60_000)?.to, 'inactive');

  // Without an explicit `until`, a rule lets go when its input goes silent (a heater stops).
  const level = new RuleEngine({ when: heating.when, onActivate: [], staleAfterMs: 30_000 });
  const l = new FakeStreams().set('temperature', 19, 0).set('setpoint', 20, 0);
  assert.equal(level.evaluate(l, 0)?.to, 'active');
  const d = level.evaluate(l, 31_000);
  assert.equal(d?.to, 'inactive');
  assert.deepEqual(d?.inputs, [{ read: 'temperature', value: null, status: 'stale', below: null, holds: false }]);
});

test('by default an input is stale after three of its own intervals, never sooner than the floor', () => {
  const engine = new RuleEngine({ when: { metric: 'score', above: 0.5 }, onActivate: [] });
  const s = new FakeStreams().set('score', 0.9, 0);
  assert.equal(engine.evaluate(s, 0)?.to, 'active');
  assert.equal(engine.evaluate(s, FIRST_READING_STALE_MS), null, 'one reading: the first-reading limit');
  assert.equal(engine.evaluate(s, FIRST_READING_STALE_MS + 1)?.to, 'inactive');
  // A model publishing every 20 s: stale 60 s after its last output.
  s.set('score', 0.9, 100_000);
  assert.equal(engine.evaluate(s, 100_000)?.to, 'active');
  s.set('score', 0.9, 120_000);
  assert.equal(engine.evaluate(s, 120_000), null);
  assert.equal(engine.evaluate(s, 180_000), null);
  assert.equal(engine.evaluate(s, 180_001)?.to, 'inactive');
  // A 1 Hz sensor: the floor, not 3 s.
  const fast = new RuleEngine({ when: { metric: 'x', above: 0 }, onActivate: [] });
  const f = new FakeStreams();
  for (let t = 0; t <= 10_000; t += 1000) fast.evaluate(f.set('x', 1, t), t);
  assert.equal(fast.state, 'active');
  assert.equal(fast.evaluate(f, 10_000 + STALE_FLOOR_MS), null);
  assert.equal(fast.evaluate(f, 10_001 + STALE_FLOOR_MS)?.to, 'inactive');
});

test('all, any and not combine comparisons; a stale input under not counts as true', () => {
  const config: RuleConfig = {
    when: {
      all: [
        {
          any: [
            { metric: 'a', above: 10 },
            { metric: 'b', below: 0 },
          ],
        },
        { not: { metric: 'c', above: 0, below: 5 } },
      ],
    },
    onActivate: [],
    staleAfterMs: 10_000,
  };
  const cases: [number, number, number, boolean][] = [
    [11, 1, 7, true],
    [9, 1, 7, false],
    [9, -1, 7, true],
    [11, 1, 3, false],
    [11, 1, 5, true], // strict bounds: 5 is not below 5
  ];
  for (const [a, b, c, expected] of cases) {
    const engine = new RuleEngine(config);
    const d = engine.evaluate(new FakeStreams().set('a', a, 0).set('b', b, 0).set('c', c, 0), 0);
    assert.equal(d?.to, expected ? 'active' : 'inactive', `a=${a} b=${b} c=${c}`);
    assert.deepEqual(
      d?.inputs.map((i) => i.read),
      ['a', 'b', 'c'],
    );
  }
  const engine = new RuleEngine(config);
  const stale = new FakeStreams().set('a', 11, 0).set('b', 1, 0).set('c', 3, 0);
  assert.equal(engine.evaluate(stale, 0)?.to, 'inactive');
  assert.equal(engine.evaluate(stale.set('a', 11, 20_000), 20_000)?.to, 'active', 'c stale: not(false)');
});

test('a start between the thresholds decides nothing; a start with the condition true activates at once', () => {
  const engine = new RuleEngine({ ...heating, minInactiveMs: 600_000 });
  const s = new FakeStreams().set('setpoint', 20, 0);
  assert.equal(engine.evaluate(s.set('temperature', 20, 0), 0), null);
  assert.equal(engine.state, null);
  assert.equal(engine.evaluate(s.set('temperature', 20.3, 1000).set('setpoint', 20, 1000), 1000)?.to, 'inactive');
  const hot = new RuleEngine({ ...heating, minInactiveMs: 600_000 });
  const d = hot.evaluate(new FakeStreams().set('setpoint', 20, 0).set('temperature', 19, 0), 0);
  assert.deepEqual([d?.from, d?.to, d?.by], [null, 'active', 'when'], 'no minimum time before the first decision');
});

// ---- the module ----------------------------------------------------------------------------

function fakeContext(streams: LocalStreams, clock: FakeClock, deny: string[] = []) {
  const actuated: [string, ActuatorValue][] = [];
  const raised: RaiseEventInput[] = [];
  const ctx: ModuleContext = {
    name: 'room-heating',
    clock,
    logger: silentLogger(),
    streams,
    dataDir: null,
    emit: () => {},
    actuate(actuator, value) {
      if (deny.includes(actuator)) throw new ModuleDenied(`actuator ${actuator} denied`);
      actuated.push([actuator, value]);
    },
    raise: (event) => void raised.push(event),
    crashed: () => {},
  };
  return { ctx, actuated, raised };
}

const spec = (config: RuleConfig, permissions: RuleSpec['permissions'] = { actuators: ['heater'] }): RuleSpec => ({
  name: 'room-heating',
  kind: 'rule',
  config,
  permissions,
});

test('the rule module acts once per transition and records each decision with its inputs', async () => {
  const clock = new FakeClock(0);
  const streams = new FakeStreams().set('setpoint', 20, 0).set('temperature', 19, 0);
  const { ctx, actuated, raised } = fakeContext(streams, clock);
  const rule = await ruleKind.start(spec(heating), ctx);
  assert.deepEqual(actuated, [['heater', true]], 'its condition held at start: it acted at once');
  for (let t = 1000; t <= 5000; t += 1000) {
    await clock.advance(1000);
    streams.set('temperature', 19 + t / 10_000, t).set('setpoint', 20, t);
    rule.onSample?.({ ts: t, metrics: { temperature: 19 + t / 10_000 } });
  }
  assert.equal(actuated.length, 1, 'still heating: no repeat');
  await clock.advance(1000);
  streams.set('temperature', 20.3, 6000).set('setpoint', 20, 6000);
  rule.onSample?.({ ts: 6000, metrics: { temperature: 20.3 } });
  assert.deepEqual(actuated, [
    ['heater', true],
    ['heater', false],
  ]);
  assert.deepEqual(
    raised.map((e) => [e.type, e.code, e.message]),
    [
      ['action', 'RULE_ACTIVATED', 'room-heating activated: temperature 19 (below 19.75)'],
      ['action', 'RULE_DEACTIVATED', 'room-heating deactivated: temperature 20.3 (above 20.25)'],
    ],
  );
  assert.deepEqual(raised[1]?.data, {
    rule: 'room-heating',
    from: 'active',
    to: 'inactive',
    by: 'until',
    inputs: [{ read: 'temperature', value: 20.3, status: 'ok', above: 20.25, holds: true }],
    actions: ['actuate heater = false'],
  });
  assert.equal(raised[0]?.data?.holdsFleet, undefined, 'it switches the heater: the fleet waits for it');
  assert.deepEqual(await rule.health?.(), {
    healthy: true,
    detail: 'inactive since 1970-01-01T00:00:06.000Z',
  });
  await rule.stop();
  rule.onSample?.({ ts: 7000, metrics: {} });
  assert.equal(raised.length, 2, 'a stopped rule does nothing');
});

test('raise actions carry the inputs; a derived sample the rule does not read is not evaluated', async () => {
  const clock = new FakeClock(0);
  const streams = new FakeStreams();
  const { ctx, raised } = fakeContext(streams, clock);
  const alarm: RuleConfig = {
    when: { metric: 'bearingAnomaly', above: 0.5 },
    onActivate: [{ raise: { type: 'alarm', code: 'BEARING_WEAR', severity: 'critical', message: 'bearing wearing' } }],
  };
  const rule = await ruleKind.start(spec(alarm, {}), ctx);
  streams.set('bearingAnomaly', 0.8, 0);
  rule.onSample?.({ ts: 0, metrics: { other: 1 }, source: 'some-model' });
  assert.equal(raised.length, 1, 'only the start decision (inactive: nothing seen)');
  rule.onSample?.({ ts: 0, metrics: { bearingAnomaly: 0.8 }, source: 'bearing-model' });
  assert.deepEqual(
    raised.slice(1).map((e) => [e.type, e.code, e.severity]),
    [
      ['alarm', 'BEARING_WEAR', 'critical'],
      ['action', 'RULE_ACTIVATED', 'info'],
    ],
  );
  assert.deepEqual(raised[1]?.data, {
    rule: 'room-heating',
    inputs: [{ read: 'bearingAnomaly', value: 0.8, status: 'ok', above: 0.5, holds: true }],
  });
  // Its decisions drive no actuator: nothing a fleet action could fight with, and they say so
  // (the heating rule's, which switch the heater, do not).
  assert.deepEqual(
    raised.filter((e) => e.type === 'action').map((e) => e.data?.holdsFleet),
    [false, false],
  );
});

test('a failed action leaves the others done, is recorded, and makes the rule unhealthy', async () => {
  const clock = new FakeClock(0);
  const streams = new FakeStreams().set('setpoint', 20, 0).set('temperature', 19, 0);
  const { ctx, raised } = fakeContext(streams, clock, ['heater']);
  const config: RuleConfig = {
    ...heating,
    onActivate: [...heating.onActivate, { raise: { type: 'log', code: 'HEATING', message: 'heating' } }],
  };
  const rule = await ruleKind.start(spec(config), ctx);
  assert.deepEqual(
    raised.map((e) => e.code),
    ['HEATING', 'RULE_ACTIVATED'],
  );
  assert.deepEqual(raised[1]?.data?.failed, ['actuate heater = true: actuator heater denied']);
  assert.equal(raised[1]?.severity, 'warning');
  const health = await rule.health?.();
  assert.equal(health?.healthy, false);
  assert.match(health?.detail ?? '', /failed: actuate heater = true: actuator heater denied/);
});

test('start refuses what can never work, with the path of each problem', async () => {
  const { ctx } = fakeContext(new FakeStreams(), new FakeClock(0));
  const refused = async (config: RuleConfig, permissions?: RuleSpec['permissions']) => {
    const err = await ruleKind.start(spec(config, permissions), ctx).catch((e: unknown) => e);
    assert.ok(err instanceof ModuleRefused, String(err));
    return err.message;
  };
  assert.equal(
    await refused({ when: { all: [{ metric: 'a', above: 1 }, { metric: 'b' }] }, onActivate: [] }),
    'rule room-heating: /config/when/all/1: a comparison needs above, below or both',
  );
  assert.equal(
    await refused({ when: { metric: 'a', above: 5, below: 5 }, onActivate: [] }),
    'rule room-heating: /config/when: above 5 and below 5 can never both hold',
  );
  assert.equal(
    await refused({
      when: { metric: 't', above: 1 },
      until: { not: { metric: 't', above: { metric: 's', offset: 1 }, below: { metric: 's', offset: -1 } } },
      onActivate: [],
    }),
    'rule room-heating: /config/until/not: above s + 1 and below s − 1 can never both hold',
  );
  assert.equal(
    await refused({ ...heating, staleAfterMs: 0 }, { actuators: ['heater'] }),
    'rule room-heating: /config/staleAfterMs: 0 makes every input stale; omit it for the default',
  );
  assert.equal(
    await refused(
      { ...heating, onActivate: [{ raise: { type: 'alarm', code: 'HOT', message: 'x' } }] },
      { events: ['COLD'], metrics: ['temperature'] },
    ),
    "rule room-heating: /config/onActivate/0/raise/code: 'HOT' is not in permissions.events; " +
      "/config/onDeactivate/0/actuate/actuator: 'heater' is not in permissions.actuators; " +
      "/config: reads 'setpoint', which is not in permissions.metrics",
  );
  // Audit mode records violations instead of refusing them; bounds that follow streams may be valid.
  const ok = await ruleKind.start(spec(heating, { mode: 'audit' }), ctx);
  await ok.stop();
});
