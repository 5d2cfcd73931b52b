// Rollouts: what routes call. Apply (a new artifact version is a new revision that supersedes the
// current one, whatever its phase: a halted rollout never blocks a later one), a dry run showing
// the waves and their devices, status computed from the twins as the controller sees them,
// pause, resume, undo to a revision, history. Each change is announced on `events`; the rollout
// controller does the rest.

import { type Clock, newUid, TypedEvents } from '@homeostat/kit';
import {
  API_VERSION,
  compareVersions,
  HomeostatError,
  jsonEqual,
  matchesSelector,
  type PutRolloutRequest,
  parseRolloutSpec,
  parseSelector,
  type Rollout,
  type RolloutDryRun,
  type RolloutHistory,
  type RolloutPhase,
  type RolloutSpecFull,
  rolloutDefaults,
  type SignedManifest,
} from '@homeostat/protocol';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import type { EventLog } from '../events.js';
import type { DeviceRecord, RolloutRecord, RolloutRevisionRecord, Store } from '../store/store.js';
import { planRollout, waveCount, waveTarget } from './plan.js';
import { countsOf, FINISHED_PHASES, plannerView, statusOf, strategyOf } from './progress.js';
import { RolloutIndex } from './rollout-index.js';
import { activeOf, currentRevisions, loadWorld, observeWorld, type World } from './world.js';

export interface RolloutServiceDeps {
  store: Store;
  clock: Clock;
  artifacts: ArtifactStore;
  events: EventLog;
  /**
   * Set when the hub tells the service which devices changed (`deviceChanged`, wired like the
   * controller's): the read-only views then keep the device list between reads and read again
   * only the devices that changed. Without it, every view reads every device.
   */
  deviceEvents?: boolean;
}

export interface RolloutEvents extends Record<string, unknown> {
  changed: { name: string };
}

/** What the views of several rollouts share: every device, and each rollout's current revision. */
type SharedReads = { devices: DeviceRecord[]; revisions: Map<string, RolloutRevisionRecord>; sorted?: boolean };

/** Devices named in a conflict message, at most. */
const NAMED = 5;
/** The views' device list is read whole again at least this often, whatever the events said, ms. */
const VIEW_RESYNC_MS = 5_000;
/** The one entry of the views' index: the device list is the same for every rollout. */
const VIEW_KEY = '*';

export class RolloutService {
  readonly #deps: RolloutServiceDeps;
  readonly events = new TypedEvents<RolloutEvents>();

  /** The views' device list, kept between reads (a status watched every 250 ms on 10,000 devices). */
  readonly #viewIndex: RolloutIndex | null;
  /** Reads of the views' index, one at a time. */
  #viewRead: Promise<unknown> = Promise.resolve();

  constructor(deps: RolloutServiceDeps) {
    this.#deps = deps;
    this.#viewIndex = deps.deviceEvents === true ? new RolloutIndex(VIEW_RESYNC_MS) : null;
  }

  /** A device was created, relabelled or deleted, or reported `update` or `firmware`. */
  deviceChanged(name: string): void {
    this.#viewIndex?.deviceChanged(name);
  }

  /** What the views read: every device in name order, and the current revision of each rollout. */
  async #shared(): Promise<SharedReads> {
    const { store, clock } = this.#deps;
    const index = this.#viewIndex;
    if (index === null) return { devices: await store.listDevices(), revisions: await currentRevisions(store) };
    const read = this.#viewRead.then(() => index.devices(store, VIEW_KEY, clock.now()));
    this.#viewRead = read.catch(() => undefined);
    return { devices: await read, revisions: await currentRevisions(store), sorted: true };
  }

  async list(): Promise<Rollout[]> {
    const { store } = this.#deps;
    const shared = await this.#shared();
    const out: Rollout[] = [];
    for (const r of await store.listRollouts()) {
      const world = await loadWorld(store, r.name, shared);
      if (world) out.push(this.#view(world));
    }
    return out;
  }

  async get(name: string): Promise<Rollout> {
    return this.#view(await this.#world(name, await this.#shared()));
  }

  /** Create, or a new revision, or a change to the current one; what `homeostat apply` does. */
  async put(name: string, req: PutRolloutRequest): Promise<{ created: boolean; rollout: Rollout }> {
    const { store, clock } = this.#deps;
    const { spec, manifest, existing, current } = await this.#prepare(name, req);
    const labels = req.labels ?? {};
    const now = clock.now();
    if (!existing || !current) {
      const record: RolloutRecord = { name, uid: newUid(), labels, createdAt: now, resourceVersion: 1, revision: 1 };
      if (!(await store.createRollout(record, newRevision(name, 1, spec, manifest, now, null)))) {
        throw new HomeostatError('ERR_ROLLOUT_CONFLICT', `rollout ${name} was created at the same time; try again`);
      }
      this.#announce(
        name,
        1,
        `rollout ${name} created: revision 1 moves ${spec.selector || 'every device'} to ${spec.artifact.name} ${spec.artifact.version}`,
      );
      return { created: true, rollout: await this.get(name) };
    }
    if (isNewRevision(current.spec, spec)) {
      await this.#replace(
        name,
        current,
        newRevision(name, current.revision + 1, spec, manifest, now, null),
        'superseded',
      );
      this.#announce(
        name,
        current.revision + 1,
        `rollout ${name} revision ${current.revision + 1}: ${spec.artifact.name} ${spec.artifact.version}, superseding revision ${current.revision} (${current.phase})`,
      );
    } else {
      if (!jsonEqual(spec, current.spec)) await store.updateRolloutRevision(name, current.revision, { spec });
      this.events.emit('changed', { name });
    }
    if (!jsonEqual(labels, existing.labels)) await store.updateRolloutLabels(name, labels);
    return { created: false, rollout: await this.get(name) };
  }

  /** What `put` would do, nothing stored: the rollout as it would be, and the devices of each wave. */
  async dryRun(name: string, req: PutRolloutRequest): Promise<RolloutDryRun> {
    const { store, clock } = this.#deps;
    const { spec, manifest, existing, current } = await this.#prepare(name, req);
    const now = clock.now();
    const fresh = !current || isNewRevision(current.spec, spec);
    const revision = fresh
      ? newRevision(name, (current?.revision ?? 0) + 1, spec, manifest, now, null)
      : { ...current, spec };
    const rollout: RolloutRecord = existing
      ? { ...existing, labels: req.labels ?? {}, revision: revision.revision }
      : { name, uid: newUid(), labels: req.labels ?? {}, createdAt: now, resourceVersion: 0, revision: 1 };
    const revisions = await currentRevisions(store);
    revisions.set(name, revision);
    const world: World = {
      rollout,
      revision,
      devices: await store.listDevices(),
      records: fresh ? [] : await store.listRolloutDevices(name, revision.revision),
      active: activeOf(revisions),
    };
    const observed = observeWorld(world, now, now);
    const strategy = strategyOf(revision);
    const n = observed.devices.length;
    const waves = Array.from({ length: waveCount(strategy) }, (_, index) => ({ index, devices: [] as string[] }));
    let started = observed.devices.filter((d) => d.state !== 'pending').length;
    for (const d of observed.devices) {
      if (d.state !== 'pending') {
        if (d.wave !== null) waves[d.wave]?.devices.push(d.name);
        continue;
      }
      let i = 0;
      while (i < waves.length - 1 && started >= waveTarget(strategy, n, i)) i++;
      waves[i]?.devices.push(d.name);
      started++;
    }
    return {
      rollout: this.#view(world),
      created: !existing,
      newRevision: fresh && existing !== undefined,
      waves,
      excluded: observed.excluded,
    };
  }

  async pause(name: string): Promise<Rollout> {
    return this.#setPhase(name, 'progressing', 'paused');
  }

  async resume(name: string): Promise<Rollout> {
    return this.#setPhase(name, 'paused', 'progressing');
  }

  /**
   * A new revision that targets an earlier revision's artifact again (the one before by
   * default). A device never installs an older version than it has: devices that committed the
   * newer one stay on it (shown as `ahead`, and the undone revision's as `stranded`); the undo
   * stops the newer version from going further and takes it back from devices not yet on it.
   */
  async undo(name: string, toRevision?: number): Promise<Rollout> {
    const { store, clock } = this.#deps;
    const { revision: current } = await this.#world(name);
    const target = toRevision ?? current.revision - 1;
    const to = target >= 1 ? await store.getRolloutRevision(name, target) : undefined;
    if (!to) {
      throw new HomeostatError('ERR_ROLLOUT_REVISION_NOT_FOUND', `rollout ${name} has no revision ${target}`);
    }
    if (!isNewRevision(current.spec, to.spec)) {
      throw new HomeostatError(
        'ERR_ROLLOUT_PHASE',
        `revision ${target} targets ${to.spec.artifact.name} ${to.spec.artifact.version}, as the current revision ${current.revision} does`,
      );
    }
    const next = newRevision(name, current.revision + 1, to.spec, to.manifest, clock.now(), target);
    await this.#replace(name, current, next, 'undone');
    this.#announce(
      name,
      next.revision,
      `rollout ${name} revision ${current.revision} undone: revision ${next.revision} targets ${to.spec.artifact.version} of revision ${target} again`,
      'warning',
    );
    return this.get(name);
  }

  /**
   * Deletes a rollout with its revisions. Refused while the current revision is progressing (it
   * is moving devices: pause it first) unless `force`. Devices keep the version they run; the
   * rollout controller takes the rollout's desired `update` back from every device (one not yet
   * switched stops installing). The event log keeps every decision the rollout recorded, and the
   * deletion's event carries the history of its revisions.
   */
  async delete(name: string, force = false): Promise<void> {
    const { revision } = await this.#world(name);
    if (revision.phase === 'progressing' && !force) {
      throw new HomeostatError(
        'ERR_ROLLOUT_PHASE',
        `rollout ${name} revision ${revision.revision} is progressing: pause it first, or delete it with force`,
      );
    }
    const { items } = await this.history(name);
    if (!(await this.#deps.store.deleteRollout(name))) {
      throw new HomeostatError('ERR_ROLLOUT_NOT_FOUND', `no rollout named ${name}`);
    }
    this.#deps.events.record({
      device: null,
      type: 'rollout',
      code: null,
      severity: revision.phase === 'progressing' ? 'warning' : 'info',
      message: `rollout ${name} deleted at revision ${revision.revision} (${revision.phase})${force ? ', forced' : ''}`,
      data: { rollout: name, revision: revision.revision, phase: revision.phase, forced: force, history: items },
    });
    this.events.emit('changed', { name });
  }

  async history(name: string): Promise<RolloutHistory> {
    const world = await this.#world(name);
    const items = await this.#deps.store.listRolloutRevisions(name);
    const live = countsOf(observeWorld(world, this.#deps.clock.now(), 0), world.revision.phase);
    return {
      name,
      items: items.map((r) => ({
        revision: r.revision,
        artifact: r.spec.artifact,
        phase: r.phase,
        createdAt: r.createdAt,
        finishedAt: r.finishedAt,
        undoOf: r.undoOf,
        counts: r.revision === world.revision.revision ? live : r.counts,
        halt: r.halt,
      })),
    };
  }

  /** The rollout as stored; `shared` (the views') instead of reading every device again. */
  async #world(name: string, shared?: SharedReads): Promise<World> {
    const world = await loadWorld(this.#deps.store, name, shared);
    if (!world) throw new HomeostatError('ERR_ROLLOUT_NOT_FOUND', `no rollout named ${name}`);
    return world;
  }

  #view(world: World): Rollout {
    const now = this.#deps.clock.now();
    const observed = observeWorld(world, now, 0);
    const { revision } = world;
    const plan = planRollout(
      strategyOf(revision),
      plannerView(revision, world.records, now),
      observed.devices,
      {},
      now,
    );
    const r = world.rollout;
    return {
      apiVersion: API_VERSION,
      kind: 'Rollout',
      metadata: {
        name: r.name,
        uid: r.uid,
        labels: r.labels,
        createdAt: r.createdAt,
        resourceVersion: r.resourceVersion,
      },
      spec: revision.spec,
      status: statusOf(revision, observed, plan),
    };
  }

  /** Checks the request against the world: the spec, the artifact, and the other rollouts' devices. */
  async #prepare(name: string, req: PutRolloutRequest) {
    const { store, artifacts, clock } = this.#deps;
    const parsed = parseRolloutSpec(req.spec);
    if (!parsed.ok) {
      const details = parsed.errors.map((e) => `body/spec${e.startsWith('/:') ? e.slice(1) : e}`);
      throw new HomeostatError('ERR_VALIDATION', 'the rollout is invalid', details);
    }
    const spec = rolloutDefaults(parsed.value);
    const { name: artifact, version } = spec.artifact;
    const pushed = await artifacts.get(artifact, version);
    if (!pushed) {
      throw new HomeostatError(
        'ERR_ARTIFACT_NOT_FOUND',
        `no artifact ${artifact} ${version}: push it first (homeostat artifacts push)`,
      );
    }
    if (pushed.manifest.signed.expiresAt <= clock.now()) {
      throw new HomeostatError(
        'ERR_ROLLOUT_MANIFEST_EXPIRED',
        `the manifest of ${artifact} ${version} expired at ${new Date(pushed.manifest.signed.expiresAt).toISOString()}`,
      );
    }
    const existing = await store.getRollout(name);
    const current = existing && (await store.getRolloutRevision(name, existing.revision));
    await this.#checkOverlap(name, spec.selector);
    return { spec, manifest: pushed.manifest, existing, current };
  }

  /**
   * A device has one desired `update`: two rollouts progressing (or paused) on one device would
   * take it from each other. The second is refused while the first holds devices it selects.
   * (Labels can change later; the controller then leaves a device to the rollout that holds it.)
   */
  async #checkOverlap(name: string, selector: string): Promise<void> {
    const { store } = this.#deps;
    const others = [...activeOf(await currentRevisions(store))].filter((n) => n !== name);
    if (others.length === 0) return;
    const devices = await store.listDevices();
    const mine = devices.filter((d) => matches(d, selector));
    for (const other of others) {
      const rev = await store.getRolloutRevision(other, (await store.getRollout(other))?.revision ?? 0);
      if (!rev) continue;
      const shared = mine.filter((d) => matches(d, rev.spec.selector)).map((d) => d.name);
      if (shared.length > 0) {
        const named =
          shared.slice(0, NAMED).join(', ') + (shared.length > NAMED ? ` and ${shared.length - NAMED} more` : '');
        throw new HomeostatError(
          'ERR_ROLLOUT_CONFLICT',
          `rollout ${other} (revision ${rev.revision}, ${rev.phase}) targets ${shared.length} of the same devices: ${named}`,
        );
      }
    }
  }

  /** Makes `next` current; the replaced revision keeps its counts, and its unfinished devices are taken back. */
  async #replace(
    name: string,
    current: RolloutRevisionRecord,
    next: RolloutRevisionRecord,
    as: RolloutPhase,
  ): Promise<void> {
    const { store, clock } = this.#deps;
    const world = await this.#world(name);
    const phase: RolloutPhase = as === 'undone' || !FINISHED_PHASES.has(current.phase) ? as : current.phase;
    const observed = observeWorld(world, clock.now(), 0);
    const now = clock.now();
    const unfinished = [...observed.rows.values()].filter((r) => r.outcome === null && r.rollbackRequestedAt === null);
    await store.saveRolloutDevices(name, current.revision, [
      ...observed.changed,
      ...unfinished.map((r) => ({ ...r, rollbackRequestedAt: now })),
    ]);
    for (const r of unfinished) r.rollbackRequestedAt = now;
    await store.updateRolloutRevision(name, current.revision, { counts: countsOf(observed, phase) });
    if (!(await store.addRolloutRevision(name, current.revision, next, phase === current.phase ? null : phase))) {
      throw new HomeostatError('ERR_ROLLOUT_CONFLICT', `rollout ${name} changed at the same time; try again`);
    }
  }

  async #setPhase(name: string, from: RolloutPhase, to: RolloutPhase): Promise<Rollout> {
    const { revision } = await this.#world(name);
    if (revision.phase !== from) {
      throw new HomeostatError(
        'ERR_ROLLOUT_PHASE',
        `rollout ${name} revision ${revision.revision} is ${revision.phase}, not ${from}`,
      );
    }
    await this.#deps.store.updateRolloutRevision(name, revision.revision, { phase: to });
    this.#announce(
      name,
      revision.revision,
      `rollout ${name} revision ${revision.revision} ${to === 'paused' ? 'paused' : 'resumed'}`,
    );
    return this.get(name);
  }

  #announce(name: string, revision: number, message: string, severity: 'info' | 'warning' = 'info'): void {
    this.#deps.events.record({
      device: null,
      type: 'rollout',
      code: null,
      severity,
      message,
      data: { rollout: name, revision },
    });
    this.events.emit('changed', { name });
  }
}

/** A revision as applied now: progressing, nothing finished. */
export function newRevision(
  rollout: string,
  revision: number,
  spec: RolloutSpecFull,
  manifest: SignedManifest,
  now: number,
  undoOf: number | null,
): RolloutRevisionRecord {
  return {
    rollout,
    revision,
    spec,
    manifest,
    createdAt: now,
    phase: 'progressing',
    waveFinishedAt: null,
    halt: null,
    finishedAt: null,
    undoOf,
    counts: null,
  };
}

/** A new artifact (name or version) makes a new revision; anything else changes the current one. */
function isNewRevision(current: RolloutSpecFull, next: RolloutSpecFull): boolean {
  return (
    current.artifact.name !== next.artifact.name ||
    compareVersions(current.artifact.version, next.artifact.version) !== 0
  );
}

function matches(device: DeviceRecord, selector: string): boolean {
  const parsed = parseSelector(selector);
  return 'terms' in parsed && matchesSelector(device.labels, parsed.terms);
}
