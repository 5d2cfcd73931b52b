// The demo fleet plan, and properties every simulated device must have on the wire.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Capabilities, isLabelKey, isLabelValue, isName, METRIC_PATTERN, parser } from '@homeostat/protocol';
import { planFleet, planUnits } from './fleet-plan.js';
import { HOUR_MS } from './sim-time.js';

const T0 = 1_764_260_000_000;
const metricRe = new RegExp(METRIC_PATTERN);
const capabilities = parser(Capabilities);

test('a plan of 20 gives 20 devices: 5 rooms (a thermostat and a heater each), 5 mowers, 5 pumps', () => {
  const fleet = planFleet({ devices: 20, clockNow: () => T0 });
  assert.equal(fleet.length, 20);
  const names = fleet.map((d) => d.name);
  assert.equal(new Set(names).size, 20);
  for (const name of names) assert.ok(isName(name), name);
  const count = (kind: string) => fleet.filter((d) => d.kind === kind).length;
  assert.deepEqual([count('thermostat'), count('heater'), count('mower'), count('pump')], [5, 5, 5, 5]);
  assert.ok(names.includes('room-01-thermostat') && names.includes('room-05-heater'));
  assert.ok(names.includes('mower-05') && names.includes('pump-01'));
  for (const d of fleet) {
    assert.equal(d.hardware.kind, d.kind);
    for (const [k, v] of Object.entries(d.labels)) assert.ok(isLabelKey(k) && isLabelValue(v), `${k}=${v}`);
    assert.ok(['paris', 'lyon'].includes(d.labels.site ?? ''));
    assert.ok(d.labels.model && d.labels['hw-revision']);
    const caps = capabilities.parse(d.hardware.capabilities());
    assert.ok(caps.ok && caps.value.kind === d.kind, d.name);
  }
  const room = fleet.filter((d) => d.labels.room === 'room-02');
  assert.deepEqual(
    room.map((d) => [d.name, d.labels.model]),
    [
      ['room-02-thermostat', 'th-100'],
      ['room-02-heater', 'ht-200'],
    ],
  );
  assert.deepEqual(new Set(fleet.map((d) => d.labels.site)), new Set(['paris', 'lyon']));
});

test('unit counts round sensibly and names are padded so they sort', () => {
  assert.deepEqual(planUnits(5), ['thermostat', 'mower', 'pump', 'mower']);
  assert.deepEqual(planUnits(3, ['thermostat']), ['thermostat', 'thermostat']);
  assert.deepEqual(planUnits(0), []);
  assert.throws(() => planUnits(2, []), RangeError);
  const fleet = planFleet({ devices: 120, kinds: ['pump'], clockNow: () => T0 });
  const names = fleet.map((d) => d.name);
  assert.equal(names[0], 'pump-001');
  assert.deepEqual([...names].sort(), names);
});

test('the rooms of a plan share their model: the thermostat sees what the heater does', () => {
  const fleet = planFleet({ devices: 2, kinds: ['thermostat'], clockNow: () => T0 });
  const [thermostat, heater] = fleet.map((d) => d.hardware);
  heater!.applyDesired({ mode: 'manual', power: 1 }, T0);
  const before = thermostat!.sample(T0).temperature ?? 0;
  const after = thermostat!.sample(T0 + 3 * HOUR_MS).temperature ?? 0;
  assert.ok(after > before + 3, `${before} -> ${after}`);
});

test('every device samples valid metric names and finite values through two simulated days', () => {
  const fleet = planFleet({ devices: 20, seed: 3, timeScale: 120, clockNow: () => T0 });
  const names = new Map<string, Set<string>>();
  for (let m = 0; m <= 24; m++) {
    const now = T0 + m * 60_000; // 24 wall minutes = 48 simulated hours
    for (const d of fleet) {
      if (m % 6 === 0) d.hardware.applyDesired({}, now);
      const metrics = d.hardware.sample(now);
      assert.ok(Object.keys(metrics).length > 0);
      for (const [k, v] of Object.entries(metrics)) {
        assert.match(k, metricRe, `${d.name}: ${k}`);
        assert.ok(Number.isFinite(v), `${d.name}: ${k}=${v}`);
      }
      const set = names.get(d.kind) ?? new Set();
      for (const k of Object.keys(metrics)) set.add(k);
      names.set(d.kind, set);
    }
  }
  assert.deepEqual([...(names.get('thermostat') ?? [])].sort(), ['humidity', 'setpoint', 'temperature']);
  assert.deepEqual([...(names.get('heater') ?? [])].sort(), ['energyWh', 'power', 'supplyTemperature']);
  assert.deepEqual([...(names.get('mower') ?? [])].sort(), [
    'battery',
    'bladeRpm',
    'coverage',
    'distanceToBase',
    'state',
  ]);
  // The scripted worn pump fails within those two simulated days.
  const pump02 = fleet.find((d) => d.name === 'pump-02')!.hardware.sample(T0 + 24 * 60_000);
  assert.equal(pump02.flow, 0);
});

test('the same seed gives the same samples; another seed, others', () => {
  const run = (seed: number) => {
    const fleet = planFleet({ devices: 8, seed, timeScale: 60, clockNow: () => T0 });
    const out: unknown[] = [];
    for (let s = 0; s <= 30; s++) {
      for (const d of fleet) out.push([d.name, d.labels, d.hardware.sample(T0 + s * 10_000)]);
    }
    return out;
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
});

test('every device of a plan takes the actuators its capabilities name, and no other', () => {
  const fleet = planFleet({ devices: 4, clockNow: () => T0 });
  const value: Record<string, string | boolean> = { mode: 'dock', running: true };
  for (const d of fleet) {
    const actuators = d.hardware.capabilities().actuators ?? [];
    assert.ok(actuators.length > 0, d.name);
    for (const a of actuators) d.hardware.actuate?.(a, value[a] ?? 1, T0);
    assert.throws(() => d.hardware.actuate?.('nothing', 1, T0), /no actuator 'nothing'/, d.name);
  }
});
