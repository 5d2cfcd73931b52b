// A simulated fleet: the real agent, one per planned device, each with its own MQTT connection,
// outbox and credentials, running on simulated hardware in one process.

import { join } from 'node:path';
import { Agent, type UpdateProbeOptions } from '@homeostat/agent';
import { type Clock, type Logger, silentLogger, systemClock } from '@homeostat/kit';
import type { PublicKey, ReportedFirmware } from '@homeostat/protocol';
import { type FleetPlanOptions, type PlannedDevice, planFleet } from './fleet-plan.js';

/** How a planned device gets its identity. */
export type Provisioning =
  /** Zero-touch: each agent claims its name with the enrollment group's claim token. */
  | { kind: 'claim'; claimToken: string }
  /** Credentials made by the caller (through the API, or in process), e.g. with the plan's labels. */
  | { kind: 'credentials'; provide(device: PlannedDevice): Promise<{ id: string; token: string }> };

export interface SimFleetOptions extends Omit<FleetPlanOptions, 'clockNow'> {
  hubUrl: string;
  /** The hub's HTTP API, where agents download model files (and updates). */
  apiUrl?: string;
  provisioning: Provisioning;
  /** Per-device data directories live under this one; null keeps outboxes in memory. */
  dataDir: string | null;
  heartbeatMs?: number;
  sampleMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Agents started at once; the rest wait, so a large fleet does not stampede the hub. */
  startConcurrency?: number;
  /** The root public key the devices trust updates under; without it they refuse every update. */
  rootKey?: PublicKey;
  /** What every device runs before an update (its factory image). */
  firmware?: ReportedFirmware;
  /** The probe of a new version after an update's switch. */
  updateProbe?: UpdateProbeOptions;
}

export class SimFleet {
  readonly #options: SimFleetOptions;
  readonly #agents: Agent[] = [];
  #plan: PlannedDevice[] = [];

  constructor(options: SimFleetOptions) {
    this.#options = options;
  }

  get devices(): readonly PlannedDevice[] {
    return this.#plan;
  }

  get agents(): readonly Agent[] {
    return this.#agents;
  }

  get connectedCount(): number {
    return this.#agents.filter((a) => a.connected).length;
  }

  async start(): Promise<void> {
    const o = this.#options;
    const clock = o.clock ?? systemClock;
    const logger = o.logger ?? silentLogger();
    this.#plan = planFleet({
      devices: o.devices,
      ...(o.kinds ? { kinds: o.kinds } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.timeScale !== undefined ? { timeScale: o.timeScale } : {}),
      clockNow: () => clock.now(),
    });
    const queue = [...this.#plan];
    const worker = async () => {
      for (let device = queue.shift(); device; device = queue.shift()) {
        const identity =
          o.provisioning.kind === 'claim'
            ? { claim: o.provisioning.claimToken, name: device.name, id: device.name }
            : await o.provisioning.provide(device);
        const agent = new Agent({
          hubUrl: o.hubUrl,
          ...(o.apiUrl !== undefined ? { apiUrl: o.apiUrl } : {}),
          ...identity,
          dataDir: o.dataDir === null ? null : join(o.dataDir, device.name),
          hardware: device.hardware,
          clock,
          logger: logger.child({ device: device.name }),
          ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
          ...(o.sampleMs !== undefined ? { sampleMs: o.sampleMs } : {}),
          // Updates target the device's model label.
          ...(device.labels.model !== undefined ? { model: device.labels.model } : {}),
          ...(o.rootKey !== undefined ? { rootKey: o.rootKey } : {}),
          ...(o.firmware !== undefined ? { firmware: o.firmware } : {}),
          ...(o.updateProbe !== undefined ? { updateProbe: o.updateProbe } : {}),
        });
        this.#agents.push(agent);
        await agent.start();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.startConcurrency ?? 16) }, worker));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#agents.map((a) => a.stop().catch(() => {})));
    this.#agents.length = 0;
  }
}
