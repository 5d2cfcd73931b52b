// The device loop on simulated hardware, on a FakeClock (simulated hours in seconds), with real
// agents and a real broker behind a proxy that cuts the hub away:
// - a heater whose hub and thermostat are both gone keeps the room warm in safe mode, and goes
//   back to the thermostat's rule when the link returns;
// - a mower parks while the hub is gone, and resumes where it stopped once it is back;
// - a mower whose return-to-base rule is missing is sent home by the battery guard before it is
//   stranded, recharges and resumes; with the rule, the guard defers to it;
// - every decision reaches the hub as an event once the link is back, in order.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEMO_DESIRED } from '../demo-desired.js';
import { HEATER_REMOTE, MOWER_RETURN_TO_BASE } from '../demo-modules.js';
import { MowerHardware } from '../mower.js';
import { HeaterHardware, Room, ThermostatHardware } from '../room.js';
import { SimTime } from '../sim-time.js';
import { DEVICE_LOOP_POLICIES } from './device-policies.js';
import { loopDecisions, loopRig } from './loop-test-support.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

describe('device loop on simulated hardware', () => {
  test('heater: safe mode keeps the room warm through a hub outage, then back to the rule', async (t) => {
    const rig = await loopRig(t);
    const time = new SimTime();
    const room = new Room({ initialTemperatureC: 21 });
    // The thermostat is there but silent (its agent died with the hub): it calls for no heat.
    new ThermostatHardware(room, { time, setpointC: 21 });
    const heater = new HeaterHardware(room, { time, mode: 'remote', setpointC: 21 });
    const desired = { ...DEMO_DESIRED.heater, ...HEATER_REMOTE, ...DEVICE_LOOP_POLICIES.heater };
    const agent = await rig.agent('room-1-heater', heater, desired);
    await rig.until(() => agent.connected, 'connected');

    rig.cut();
    let coldest = room.temperatureC;
    await rig.run(3 * HOUR_MS, 10_000, () => {
      coldest = Math.min(coldest, room.temperatureC);
    });
    assert.equal(agent.connected, false);
    // Remote with nobody calling for heat, the room would fall towards the outside temperature.
    assert.ok(coldest > 19.3, `the room stayed warm: coldest ${coldest.toFixed(2)} °C`);
    assert.equal(heater.sample(rig.clock.now()).power !== undefined, true);
    assert.deepEqual(loopDecisions(rig.events('room-1-heater')), [], 'nothing reaches the hub while it is cut off');

    rig.restore();
    await rig.until(() => loopDecisions(rig.events('room-1-heater')).length === 2, 'decisions delivered');
    const events = rig.events('room-1-heater').filter((e) => e.type === 'action');
    assert.deepEqual(
      events.map((e) => e.code),
      ['SAFE_MODE_ENTERED', 'SAFE_MODE_EXITED'],
    );
    const [entered, exited] = events;
    assert.ok(entered && exited && entered.seq < exited.seq, 'in order');
    assert.deepEqual(entered?.data?.plan, [{ op: 'apply-desired', overlay: { mode: 'auto', setpoint: 20 } }]);
    assert.equal(entered?.data?.result, 'done');
    assert.equal(entered?.data?.degree, 'act');
    // Entered three heartbeats (30 s) after the cut, not at the reconnection.
    assert.ok((exited?.ts ?? 0) - (entered?.ts ?? 0) > 2 * HOUR_MS);
    // Back to the thermostat's rule: the heater follows its call for heat again.
    const reported = heater.applyDesired({}, rig.clock.now());
    assert.equal(reported.mode, 'remote');
  });

  test('mower: parks while the hub is gone and resumes where it stopped', async (t) => {
    const rig = await loopRig(t);
    const time = new SimTime();
    const mower = new MowerHardware({ time, initial: { state: 'mowing', coveragePercent: 10, batteryPercent: 90 } });
    const desired = { ...DEMO_DESIRED.mower, ...DEVICE_LOOP_POLICIES.mower };
    const agent = await rig.agent('mower-1', mower, desired);
    await rig.until(() => agent.connected, 'connected');
    rig.cut();
    await rig.run(30 * MINUTE_MS, 10_000);
    assert.ok(['returning', 'charging', 'docked'].includes(mower.state), mower.state);
    const parkedAt = mower.coveragePercent;
    await rig.run(HOUR_MS, 10_000);
    assert.equal(mower.coveragePercent, parkedAt, 'no mowing while parked');

    rig.restore();
    await rig.until(() => loopDecisions(rig.events('mower-1')).includes('SAFE_MODE_EXITED'), 'link back');
    await rig.run(30 * MINUTE_MS, 10_000);
    assert.equal(mower.mode, 'mow');
    assert.ok(mower.coveragePercent > parkedAt, `resumed from ${parkedAt.toFixed(1)} %, now ${mower.coveragePercent}`);
    assert.deepEqual(loopDecisions(rig.events('mower-1')), ['SAFE_MODE_ENTERED', 'SAFE_MODE_EXITED']);
  });

  test('mower without its rule: the battery guard docks it before it is stranded, and it resumes', async (t) => {
    const rig = await loopRig(t);
    const time = new SimTime();
    const mower = new MowerHardware({ time, initial: { state: 'mowing', coveragePercent: 5, batteryPercent: 30 } });
    const { safeMode: _offline, ...guardOnly } = DEVICE_LOOP_POLICIES.mower ?? {};
    const agent = await rig.agent('mower-2', mower, { ...DEMO_DESIRED.mower, ...guardOnly });
    await rig.until(() => agent.connected, 'connected');
    let lowest = 100;
    await rig.run(4 * HOUR_MS, 10_000, () => {
      lowest = Math.min(lowest, mower.batteryPercent);
    });
    assert.notEqual(mower.state, 'stranded');
    assert.ok(lowest > 5, `kept a reserve: lowest ${lowest.toFixed(1)} %`);
    await rig.until(() => loopDecisions(rig.events('mower-2')).length >= 2, 'decisions delivered');
    assert.deepEqual(loopDecisions(rig.events('mower-2')).slice(0, 2), [
      'BATTERY_GUARD_RETURN',
      'BATTERY_GUARD_RESUMED',
    ]);
    assert.ok(mower.coveragePercent > 5);
  });

  test('mower with its return-to-base rule: the rule acts first, the guard defers and says so', async (t) => {
    const rig = await loopRig(t);
    const time = new SimTime();
    // Far out on the lawn, just under the rule's 25 %: the rule acts after its 30 s, and the battery
    // passes the guard's reserve on the way home.
    const mower = new MowerHardware({ time, initial: { state: 'mowing', coveragePercent: 50, batteryPercent: 24.6 } });
    const modules = {
      [MOWER_RETURN_TO_BASE.name]: { rev: '0000000000000001', deployment: 'demo', spec: MOWER_RETURN_TO_BASE },
    };
    const guard = {
      ...(DEVICE_LOOP_POLICIES.mower?.batteryGuard as object),
      below: 24,
    };
    const agent = await rig.agent('mower-3', mower, { ...DEMO_DESIRED.mower, modules, batteryGuard: guard }, 5000);
    await rig.until(() => agent.connected, 'connected');
    await rig.run(HOUR_MS, 5000);
    await rig.until(() => loopDecisions(rig.events('mower-3')).length >= 1, 'the guard reported');
    const codes = rig.events('mower-3').map((e) => e.code);
    assert.ok(codes.indexOf('RETURN_TO_BASE') < codes.indexOf('BATTERY_GUARD_DEFERRED'), codes.join(' '));
    assert.ok(!codes.includes('BATTERY_GUARD_RETURN'));
    assert.notEqual(mower.state, 'stranded');
  });
});
