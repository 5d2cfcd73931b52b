// Some keys of the desired state belong to the agent, not to the hardware: `telemetry` (the
// settings of the agent's aggregate stage), `modules` (what the module supervisor runs) and the
// device loop's policies (`safeMode`, `batteryGuard`, `sampling`, `watchdog`, `autonomy`). This
// wrapper takes them out and hands the rest to the hardware, so both a new desired state and the
// one restored at start (which is how modules run again after a reboot, before any hub answers)
// reach the agent's parts.

import { isPlainObject, parser, TelemetrySettings } from '@homeostat/protocol';
import { LOOP_KEYS } from '../autonomic/policies.js';
import type { DeviceHardware, State } from '../device/hardware.js';

const settingsParser = parser(TelemetrySettings);

export interface AgentKeys {
  telemetry(settings: TelemetrySettings): void;
  /** Called with the problems when the telemetry settings are invalid (the previous ones stay). */
  refuseTelemetry(problems: string[]): void;
  /** The desired `modules`, by name ({} when absent: no modules); a value that is not an object is skipped. */
  modules(modules: Record<string, unknown>): void;
  refuseModules(problem: string): void;
  /** The device loop's keys, and the hardware's part of the state (what safe mode overlays). */
  loop(hardwareDesired: State, loopKeys: State): void;
}

/** The hardware as it is, but for how a desired state is applied. */
export function withApplyDesired(
  hardware: DeviceHardware,
  applyDesired: (desired: State, now: number) => State,
): DeviceHardware {
  return {
    kind: hardware.kind,
    capabilities: () => hardware.capabilities(),
    sample: (now) => hardware.sample(now),
    ...(hardware.actuate ? { actuate: hardware.actuate.bind(hardware) } : {}),
    applyDesired,
  };
}

export function withAgentKeys(hardware: DeviceHardware, keys: AgentKeys): DeviceHardware {
  return withApplyDesired(hardware, (desired, now) => {
    const { telemetry, modules, ...others } = desired;
    const rest: State = {};
    const loopKeys: State = {};
    for (const [key, value] of Object.entries(others)) {
      if ((LOOP_KEYS as readonly string[]).includes(key)) loopKeys[key] = value;
      else rest[key] = value;
    }
    const reported = hardware.applyDesired(rest, now);
    keys.loop(rest, loopKeys);
    if (modules === undefined || modules === null) keys.modules({});
    else if (isPlainObject(modules)) keys.modules(modules);
    else keys.refuseModules('desired modules must be an object of modules by name');
    if (telemetry === undefined) return reported;
    const parsed = settingsParser.parse(telemetry);
    if (!parsed.ok) {
      keys.refuseTelemetry(parsed.errors);
      return { ...reported, telemetry: { error: parsed.errors } };
    }
    keys.telemetry(parsed.value);
    return { ...reported, telemetry: parsed.value };
  });
}
