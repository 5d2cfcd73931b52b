// The device's telemetry settings come with its desired state, under `telemetry`. This wrapper
// takes that key for the agent's aggregate stage and hands the rest to the hardware, so both a
// new desired state and the one restored at start reach the stage.

import { parser, TelemetrySettings } from '@homeostat/protocol';
import type { DeviceHardware, State } from '../device/hardware.js';

const settingsParser = parser(TelemetrySettings);

export function withTelemetrySettings(
  hardware: DeviceHardware,
  apply: (settings: TelemetrySettings) => void,
  refuse: (problems: string[]) => void,
): DeviceHardware {
  return {
    kind: hardware.kind,
    capabilities: () => hardware.capabilities(),
    sample: (now) => hardware.sample(now),
    applyDesired(desired: State, now: number): State {
      const { telemetry, ...rest } = desired;
      const reported = hardware.applyDesired(rest, now);
      if (telemetry === undefined) return reported;
      const parsed = settingsParser.parse(telemetry);
      if (!parsed.ok) {
        refuse(parsed.errors);
        return { ...reported, telemetry: { error: parsed.errors } };
      }
      apply(parsed.value);
      return { ...reported, telemetry: parsed.value };
    },
  };
}
