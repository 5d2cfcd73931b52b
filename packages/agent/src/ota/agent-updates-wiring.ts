// How the agent wires its updates: default boot slots, the hub as the artifact source, and the
// desired `update` and `trust` keys taken out of what the hardware is given (agent-updates.ts
// runs the updates themselves).

import { join } from 'node:path';
import type { PublicKey, ReportedFirmware } from '@homeostat/protocol';
import type { DeviceHardware } from '../device/hardware.js';
import { withApplyDesired } from '../edge/settings.js';
import { AgentError } from '../errors.js';
import type { DeviceCredentials } from '../link/credentials.js';
import { AgentUpdates, type AgentUpdatesOptions, type UpdateProbeOptions } from './agent-updates.js';
import { HttpArtifactSource } from './http-source.js';
import { MemoryBootSlots } from './memory-slots.js';
import { type BootSlots, FileBootSlots } from './slots.js';
import type { ArtifactSource } from './updater.js';

/** A source for an agent started without the hub's API URL: every download is refused. */
const unavailableSource: ArtifactSource = {
  download: async () => {
    throw new AgentError(
      'ERR_UPDATE_UNAVAILABLE',
      'started without the hub API URL (--api-url): nowhere to download from',
    );
  },
};

/**
 * Takes `update` and `trust` out of the desired state (they are the agent's, not the hardware's)
 * and hands them to `take`; the rest goes to the hardware.
 */
export function withUpdateKeys(
  hardware: DeviceHardware,
  take: (update: unknown, trust: unknown) => void,
): DeviceHardware {
  return withApplyDesired(hardware, (desired, now) => {
    const { update, trust, ...rest } = desired;
    const reported = hardware.applyDesired(rest, now);
    take(update, trust);
    return reported;
  });
}

/** The agent's options that concern updates (see AgentOptions). */
export interface AgentUpdateOptions {
  dataDir?: string | null;
  apiUrl?: string;
  rootKey?: PublicKey;
  slots?: BootSlots;
  model?: string;
  firmware?: ReportedFirmware;
  updateProbe?: UpdateProbeOptions;
  hardware: Pick<DeviceHardware, 'kind'>;
}

/** Updates as the agent runs them: default slots, the hub as the artifact source. */
export function agentUpdates(
  o: AgentUpdateOptions,
  deps: Pick<AgentUpdatesOptions, 'agent' | 'report' | 'raise' | 'clock' | 'logger'> & {
    credentials: DeviceCredentials;
  },
): AgentUpdates {
  const { dataDir = null, apiUrl, credentials } = { ...o, ...deps };
  return new AgentUpdates({
    ...deps,
    dataDir,
    rootKey: o.rootKey ?? null,
    slots: o.slots ?? (dataDir === null ? new MemoryBootSlots() : new FileBootSlots({ dir: join(dataDir, 'slots') })),
    model: o.model ?? o.hardware.kind,
    factory: o.firmware ?? null,
    source:
      apiUrl === undefined
        ? unavailableSource
        : new HttpArtifactSource({ apiUrl, deviceId: credentials.deviceId, token: credentials.token }),
    probe: o.updateProbe ?? {},
  });
}
