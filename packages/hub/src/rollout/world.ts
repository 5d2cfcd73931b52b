// What a reconcile (or a status) of one rollout reads from the store: the rollout, its current
// revision, every device, the revision's per-device records, and which rollouts hold devices.

import type { DeviceRecord, RolloutDeviceRecord, RolloutRecord, RolloutRevisionRecord, Store } from '../store/store.js';
import { type Observed, observe } from './progress.js';

export interface World {
  rollout: RolloutRecord;
  revision: RolloutRevisionRecord;
  devices: DeviceRecord[];
  records: RolloutDeviceRecord[];
  /** Rollouts whose current revision is progressing or paused. */
  active: Set<string>;
  /** `devices` come in name order already. */
  sorted?: boolean;
}

/** The current revision of every rollout, by name. */
export async function currentRevisions(store: Store): Promise<Map<string, RolloutRevisionRecord>> {
  const out = new Map<string, RolloutRevisionRecord>();
  for (const r of await store.listRollouts()) {
    const rev = await store.getRolloutRevision(r.name, r.revision);
    if (rev) out.set(r.name, rev);
  }
  return out;
}

export function activeOf(revisions: ReadonlyMap<string, RolloutRevisionRecord>): Set<string> {
  return new Set([...revisions].filter(([, r]) => r.phase === 'progressing' || r.phase === 'paused').map(([n]) => n));
}

/** `devices`: read once by a caller looking at several rollouts. */
export async function loadWorld(
  store: Store,
  name: string,
  shared?: { devices: DeviceRecord[]; revisions: Map<string, RolloutRevisionRecord>; sorted?: boolean },
): Promise<World | undefined> {
  const rollout = await store.getRollout(name);
  if (!rollout) return undefined;
  const revision = await store.getRolloutRevision(name, rollout.revision);
  if (!revision) return undefined;
  const [devices, records, revisions] = await Promise.all([
    shared?.devices ?? store.listDevices(),
    store.listRolloutDevices(name, revision.revision),
    shared?.revisions ?? currentRevisions(store),
  ]);
  return {
    rollout,
    revision,
    devices,
    records,
    active: activeOf(revisions),
    ...(shared?.sorted === true ? { sorted: true } : {}),
  };
}

export function observeWorld(w: World, now: number, timeoutsFrom: number): Observed {
  return observe({
    rollout: w.rollout.name,
    revision: w.revision,
    devices: w.devices,
    records: w.records,
    active: w.active,
    now,
    timeoutsFrom,
    ...(w.sorted === true ? { sorted: true } : {}),
  });
}
