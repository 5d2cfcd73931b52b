// The mower's battery, lawn coverage and trips to the base.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MOWER_STATE_CODES, MowerHardware } from './mower.js';
import { DAY_MS } from './sim-time.js';

const MIN_MS = 60_000;

test('a mower never sent home drains its battery while mowing and strands on the lawn', () => {
  const mower = new MowerHardware({ seed: 4 });
  let previous = mower.batteryPercent;
  mower.sample(0);
  let t = 0;
  while (mower.state !== 'stranded' && t < 6 * 60) {
    t += 5;
    mower.sample(t * MIN_MS);
    if (mower.state === 'mowing') assert.ok(mower.batteryPercent < previous, `draining at minute ${t}`);
    previous = mower.batteryPercent;
  }
  assert.equal(mower.state, 'stranded');
  assert.equal(mower.batteryPercent, 0);
  assert.ok(mower.distanceToBaseM > 1, 'stranded away from its base');
  // A full battery lasts about two hours.
  assert.ok(t > 90 && t < 180, `stranded after ${t} min`);
  const at = mower.sample(t * MIN_MS);
  const later = mower.sample((t + 600) * MIN_MS);
  assert.equal(later.state, MOWER_STATE_CODES.stranded);
  assert.equal(later.coverage, at.coverage);
  assert.equal(later.bladeRpm, 0);
  assert.equal(mower.batteryPercent, 0);
  // Re-applying the same order does not rescue it; a changed order means a person carried it home.
  assert.deepEqual(mower.applyDesired({ mode: 'mow' }, (t + 600) * MIN_MS), { mode: 'mow', state: 'stranded' });
  assert.deepEqual(mower.applyDesired({ mode: 'dock' }, (t + 600) * MIN_MS), { mode: 'dock', state: 'charging' });
  assert.equal(mower.distanceToBaseM, 0);
});

test('after a dock and charge the mower resumes the lawn where it stopped', () => {
  const mower = new MowerHardware({ seed: 9 });
  mower.sample(0);
  mower.sample(60 * MIN_MS);
  assert.equal(mower.state, 'mowing');
  const stoppedAt = mower.coveragePercent;
  const awayM = mower.distanceToBaseM;
  assert.ok(stoppedAt > 10 && awayM > 2);

  mower.applyDesired({ mode: 'dock' }, 60 * MIN_MS);
  let nowMs = 60 * MIN_MS;
  let distance = mower.distanceToBaseM;
  while (mower.state === 'mowing' || mower.state === 'returning') {
    nowMs += 1000;
    mower.sample(nowMs);
    assert.ok(mower.distanceToBaseM <= distance, 'heading home');
    distance = mower.distanceToBaseM;
    assert.equal(mower.coveragePercent, stoppedAt, 'no mowing on the way home');
  }
  // The trip takes its distance over its speed (a step of slack).
  const tripS = (nowMs - 60 * MIN_MS) / 1000;
  assert.ok(Math.abs(tripS - awayM / mower.speedMps) <= 6, `${tripS} s for ${awayM} m`);
  assert.equal(mower.state, 'charging');
  const low = mower.batteryPercent;
  nowMs += 30 * MIN_MS;
  mower.sample(nowMs);
  assert.ok(mower.batteryPercent > low + 20, 'charging on the base');

  mower.applyDesired({ mode: 'mow' }, nowMs);
  while (mower.state !== 'mowing') {
    nowMs += MIN_MS;
    mower.sample(nowMs);
  }
  assert.ok(mower.batteryPercent >= 95, 'leaves the base charged');
  nowMs += 10 * MIN_MS;
  mower.sample(nowMs);
  assert.ok(mower.coveragePercent > stoppedAt, 'mowing again');
  assert.ok(mower.coveragePercent < stoppedAt + 10, 'continuing, not restarting');
});

test('a finished lawn sends the mower home, and the grass is back the next day', () => {
  const start = 10 * 3_600_000; // 10:00 UTC
  const mower = new MowerHardware({ seed: 2, initial: { coveragePercent: 95, state: 'mowing', batteryPercent: 80 } });
  mower.sample(start);
  mower.sample(start + 30 * MIN_MS);
  assert.equal(mower.coveragePercent, 100);
  mower.sample(start + 60 * MIN_MS);
  assert.equal(mower.state, 'docked', 'charged back to full and stays home');
  assert.equal(mower.distanceToBaseM, 0);
  mower.sample(start + 6 * 60 * MIN_MS);
  assert.equal(mower.state, 'docked', 'nothing left to mow today');
  mower.sample(DAY_MS + start);
  assert.ok(mower.coveragePercent > 0 && mower.coveragePercent < 100, 'a new day, a new lawn');
});

test('the mower reports blade speed only while cutting and a numeric state code', () => {
  const mower = new MowerHardware({ initial: { mode: 'dock' } });
  const docked = mower.sample(0);
  assert.equal(docked.state, MOWER_STATE_CODES.docked);
  assert.equal(docked.bladeRpm, 0);
  mower.applyDesired({ mode: 'mow', junk: true }, 0);
  const mowing = mower.sample(20 * MIN_MS);
  assert.equal(mowing.state, MOWER_STATE_CODES.mowing);
  assert.ok((mowing.bladeRpm ?? 0) > 2000);
  assert.deepEqual(mower.applyDesired({ mode: 'fly' }, 20 * MIN_MS), { mode: 'mow', state: 'mowing' });
});

test('the mode actuator docks and releases the mower; a re-applied desired mode does not undo it', () => {
  const mower = new MowerHardware({ seed: 5 });
  mower.sample(0);
  mower.sample(40 * MIN_MS);
  assert.equal(mower.state, 'mowing');
  const stoppedAt = mower.coveragePercent;
  mower.actuate('mode', 'dock', 40 * MIN_MS);
  assert.equal(mower.mode, 'dock');
  // An unrelated twin update re-applies the desired mode it always had: no new order.
  assert.deepEqual(mower.applyDesired({ mode: 'mow' }, 40 * MIN_MS), { mode: 'dock', state: 'mowing' });
  mower.sample(45 * MIN_MS);
  assert.equal(mower.state, 'charging');
  assert.equal(mower.coveragePercent, stoppedAt);
  mower.actuate('mode', 'mow', 80 * MIN_MS);
  mower.sample(100 * MIN_MS);
  assert.equal(mower.state, 'mowing');
  assert.ok(mower.coveragePercent > stoppedAt, 'resumed where it stopped');
  assert.throws(() => mower.actuate('mode', 'fly', 100 * MIN_MS), /mow \| dock/);
  assert.throws(() => mower.actuate('mode', 1, 100 * MIN_MS), /mow \| dock/);
  assert.throws(() => mower.actuate('blade', true, 100 * MIN_MS), /no actuator 'blade'/);
  assert.equal(mower.mode, 'mow');
});
