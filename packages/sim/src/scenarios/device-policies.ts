// The device loop's policies for each kind of simulated device, as data: what the hub writes into
// the desired state next to DEMO_DESIRED (keys `safeMode`, `batteryGuard`, `sampling`, `autonomy`;
// docs/protocol.md). The scenario suite and the device-loop tests run these; the demo can merge
// them into each device's desired state.
//
// - heater: the hub out of reach, its thermostat's orders may stop too: back to its own 'auto'
//   firmware at a conservative 20 °C (a degree under the demo's 21: warm, and cheaper) until the
//   link is back, then 'remote' again (the thermostat's rule).
// - mower: parks on its base while the hub is out of reach (nobody could see it stranded), and a
//   battery guard under the return-to-base rule: at 15 % it docks if the rule has not.
// - pump: keeps running, slower (0.6): less wear while nobody watches its bearing.
// - thermostat: samples every second while the room changes, up to every 8 s while it holds.

const MINUTE_MS = 60_000;

export const DEVICE_LOOP_POLICIES: Readonly<Record<string, Record<string, unknown>>> = {
  heater: {
    safeMode: { desired: { mode: 'auto', setpoint: 20 } },
    autonomy: { safeMode: 'act' },
  },
  mower: {
    // An overlay of the desired mode, not an actuation: restoring the desired 'mow' is then a new
    // order, and the mower resumes where it stopped.
    safeMode: { afterMs: MINUTE_MS, desired: { mode: 'dock' } },
    batteryGuard: {
      below: 15,
      resumeAbove: 95,
      actuate: { mode: 'dock' },
      resume: { mode: 'mow' },
      // MOWER_STATE_CODES: docked 0, returning 2, charging 3.
      homeWhen: { metric: 'state', in: [0, 2, 3] },
    },
    autonomy: { safeMode: 'act', batteryGuard: 'act' },
  },
  pump: {
    safeMode: { desired: { speed: 0.6 } },
    autonomy: { safeMode: 'act' },
  },
  thermostat: {
    sampling: { minMs: 1000, maxMs: 8000, tolerance: { temperature: 0.1 } },
    autonomy: { sampling: 'act' },
  },
};
