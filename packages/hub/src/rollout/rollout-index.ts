// What the rollout controller keeps between two reconciles of each rollout, so that a tick with
// nothing changed costs next to nothing on a fleet of 10,000 devices, and a reconcile after a few
// twin reports reads only those devices again:
//
// - the devices as last read, by name;
// - which devices changed since (a twin report of `update` or `firmware`, a device created or
//   relabelled, the controller's own writes), or all of them (the rollout itself changed);
// - when time alone could change the plan (`due`: a device timing out, the soak ending, the rate
//   limit's minute, a maintenance window, behaviour measured during the soak).
//
// Level-based all the same: an event only says which device to read again, never what it holds,
// and every `resyncMs` the rollout is read whole again, so a missed event (a device deleted, a
// desired `update` set by hand) leaves it wrong for that long at most.

import type { DeviceRecord, Store } from '../store/store.js';

/** The planner's order of devices (progress.ts sorts the same way). */
export const byName = (a: string, b: string): number => a.localeCompare(b);

/** Above this many changed devices, one read of every device is cheaper than one read each. */
const MAX_PARTIAL = 500;

interface Entry {
  devices: Map<string, DeviceRecord>;
  /** Their names in the planner's order (observe's), kept so that a reconcile does not sort again. */
  order: string[];
  /** Devices to read again; null: read every device. */
  changed: Set<string> | null;
  loadedAt: number;
  /** When time alone may change the plan, ms. */
  due: number;
}

export class RolloutIndex {
  readonly #entries = new Map<string, Entry>();
  readonly #resyncMs: number;

  /** `resyncMs`: how often a rollout is read whole again whatever the events said. */
  constructor(resyncMs: number) {
    this.#resyncMs = resyncMs;
  }

  /** A device's twin, labels or existence changed: every rollout reads it again. */
  deviceChanged(name: string): void {
    for (const e of this.#entries.values()) e.changed?.add(name);
  }

  /** The rollout itself changed (a revision, a phase): read it whole at its next reconcile. */
  invalidate(rollout: string): void {
    const e = this.#entries.get(rollout);
    if (e !== undefined) e.changed = null;
  }

  forget(rollout: string): void {
    this.#entries.delete(rollout);
  }

  /** Whether the rollout needs a reconcile at `now`: something changed, or its time came. */
  needs(rollout: string, now: number): boolean {
    const e = this.#entries.get(rollout);
    return (
      e === undefined || e.changed === null || e.changed.size > 0 || now >= e.due || now >= e.loadedAt + this.#resyncMs
    );
  }

  /** After a reconcile: when time alone may change its plan (Infinity: only events can). */
  setDue(rollout: string, at: number): void {
    const e = this.#entries.get(rollout);
    if (e !== undefined) e.due = at;
  }

  /**
   * Every device in name order (as `observe` wants them), read again only where something changed
   * (or all, when due for a resync).
   */
  async devices(store: Store, rollout: string, now: number): Promise<DeviceRecord[]> {
    const e = this.#entries.get(rollout);
    if (e === undefined || e.changed === null || e.changed.size > MAX_PARTIAL || now >= e.loadedAt + this.#resyncMs) {
      // Changes that arrive while the list is read are kept for the next reconcile.
      const entry: Entry = { devices: new Map(), order: [], changed: new Set(), loadedAt: now, due: now };
      this.#entries.set(rollout, entry);
      for (const d of await store.listDevices()) entry.devices.set(d.name, d);
      entry.order = [...entry.devices.keys()].sort(byName);
      return this.#ordered(entry);
    }
    const names = [...e.changed];
    e.changed.clear();
    let added = false;
    let removed = false;
    for (const name of names) {
      const d = await store.getDevice(name);
      if (d === undefined) removed = e.devices.delete(name) || removed;
      else {
        added ||= !e.devices.has(name);
        e.devices.set(name, d);
      }
    }
    if (added) e.order = [...e.devices.keys()].sort(byName);
    else if (removed) e.order = e.order.filter((n) => e.devices.has(n));
    return this.#ordered(e);
  }

  #ordered(e: Entry): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    for (const name of e.order) {
      const d = e.devices.get(name);
      if (d !== undefined) out.push(d);
    }
    return out;
  }
}
