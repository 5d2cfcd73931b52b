// Where a model runs: on the device when the device meets the model's requirements, in the hub
// otherwise. Pure, so the hub's planner and the tests call it directly, and the reasons it gives
// are what the placement report shows an operator.

import type { Capabilities } from '@homeostat/protocol';

export interface ModelRequirements {
  /** The device must offer at least one of these execution providers. Default ['cpu']. */
  executionProviders?: string[];
  /** Memory the session needs, MiB; compared with the device's whole memory. */
  memoryMb?: number;
  /** CPU cores the device must have. */
  cpus?: number;
}

export type Placement = 'edge' | 'hub';

export interface PlacementDecision {
  placement: Placement;
  /** Why not the edge; empty when placed at the edge. */
  reasons: string[];
}

const MIB = 1024 * 1024;

export function placement(requirements: ModelRequirements, capabilities: Capabilities | undefined): PlacementDecision {
  const reasons: string[] = [];
  const wanted = requirements.executionProviders ?? ['cpu'];
  // A device that reports no providers runs no models: older agents, or a build without onnxruntime.
  const offered = capabilities?.executionProviders ?? [];
  if (!wanted.some((p) => offered.includes(p))) {
    reasons.push(`needs one of the execution providers [${wanted.join(', ')}], device offers [${offered.join(', ')}]`);
  }
  if (requirements.memoryMb !== undefined) {
    const have = capabilities?.memoryBytes;
    if (have === undefined) reasons.push(`needs ${requirements.memoryMb} MiB, device reports no memory size`);
    else if (have < requirements.memoryMb * MIB) {
      reasons.push(`needs ${requirements.memoryMb} MiB, device has ${Math.floor(have / MIB)} MiB`);
    }
  }
  if (requirements.cpus !== undefined && (capabilities?.cpus ?? 0) < requirements.cpus) {
    reasons.push(`needs ${requirements.cpus} CPUs, device has ${capabilities?.cpus ?? 'an unknown number of'}`);
  }
  return { placement: reasons.length === 0 ? 'edge' : 'hub', reasons };
}
