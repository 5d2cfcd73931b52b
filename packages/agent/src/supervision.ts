// The agent's module supervisor and its device loop (autonomic/loop.ts), wired to the device's
// hardware and to callbacks for the rest of the agent: what they raise, report and send upstream.

import type { Clock, Logger } from '@homeostat/kit';
import type { ReportedModule } from '@homeostat/protocol';
import type { AgentOptions, RaiseEventInput } from './agent-options.js';
import { DeviceLoop } from './autonomic/loop.js';
import { deviceCapabilities } from './capabilities.js';
import type { ActuatorValue, DeviceHardware } from './device/hardware.js';
import type { DeviceCredentials } from './link/credentials.js';
import type { TelemetryStage } from './modules/aggregate.js';
import { builtInKinds } from './modules/kinds.js';
import type { Sample } from './modules/module.js';
import { StreamStore } from './modules/streams.js';
import { ModuleSupervisor } from './modules/supervisor.js';
import { fetchBlob } from './ota/http-source.js';

export interface ModuleSupervisorDeps {
  options: AgentOptions;
  credentials: DeviceCredentials;
  /** The aggregate stage aggregate modules configure. */
  stage: TelemetryStage;
  clock: Clock;
  logger: Logger;
  raise: (event: RaiseEventInput) => void;
  upstream: (sample: Sample) => void;
  report: (reported: Record<string, ReportedModule>) => void;
}

/** The module supervisor with the built-in kinds and those given in the options. */
export function moduleSupervisor(deps: ModuleSupervisorDeps): ModuleSupervisor {
  const { options, credentials } = deps;
  const { hardware, allowCommands = [], moduleKinds = [], apiUrl, dataDir = null } = options;
  const model = {
    capabilities: () => deviceCapabilities(options),
    dataDir,
    ...(apiUrl !== undefined
      ? {
          fetchArtifact: (a: { sha256: string }) =>
            fetchBlob({ apiUrl, deviceId: credentials.deviceId, token: credentials.token }, a.sha256),
        }
      : {}),
  };
  return new ModuleSupervisor({
    kinds: [...builtInKinds({ stage: deps.stage, allowCommands, model }), ...moduleKinds],
    streams: new StreamStore(),
    clock: deps.clock,
    logger: deps.logger,
    dataDir,
    actuate: (actuator, value, now) => actuate(hardware, actuator, value, now),
    raise: deps.raise,
    upstream: deps.upstream,
    report: deps.report,
  });
}

export interface DeviceLoopDeps {
  options: AgentOptions;
  clock: Clock;
  logger: Logger;
  /** True while the agent runs: the loop's state is reported only then. */
  live: () => boolean;
  setSampleInterval: (ms: number) => void;
  stopModule: () => void;
  raise: (event: RaiseEventInput) => void;
  /** The loop's state for the twin's reported `autonomic` key. */
  report: (state: Record<string, unknown>) => void;
}

/** The device's own MAPE-K loop, executing through the agent's parts. */
export function deviceLoop(deps: DeviceLoopDeps): DeviceLoop {
  const { options, clock } = deps;
  const { hardware } = options;
  let pending: Record<string, unknown> | null = null;
  return new DeviceLoop({
    clock,
    logger: deps.logger,
    heartbeatMs: options.heartbeatMs ?? 1000,
    sampleMs: options.sampleMs ?? 1000,
    applyDesired: (state) => hardware.applyDesired(state, clock.now()),
    actuate: (actuator, value) => actuate(hardware, actuator, value, clock.now()),
    setSampleInterval: deps.setSampleInterval,
    stopModule: deps.stopModule,
    raise: deps.raise,
    // Reported after the current step (a desired state being applied, a sample) has finished.
    report: (state) => {
      const first = pending === null;
      pending = state;
      if (!first) return;
      clock.setTimeout(() => {
        if (deps.live() && pending !== null) deps.report(pending);
        pending = null;
      }, 0);
    },
  });
}

/** The desired modules, minus those the device loop's watchdog stopped at their current rev. */
export function applyModules(
  modules: ModuleSupervisor,
  loop: DeviceLoop,
  desired: Record<string, unknown>,
  logger: Logger,
): void {
  const allowed = Object.fromEntries(
    Object.entries(desired).filter(([name, m]) => !loop.isStopped(name, (m as { rev?: unknown } | null)?.rev)),
  );
  modules.apply(allowed).catch((err: Error) => {
    logger.error({ err: err.message }, 'agent: applying the desired modules failed');
  });
}

function actuate(hardware: DeviceHardware, actuator: string, value: ActuatorValue, now: number): void {
  if (!hardware.actuate) throw new Error(`this device has no actuators (asked for ${actuator})`);
  hardware.actuate(actuator, value, now);
}
