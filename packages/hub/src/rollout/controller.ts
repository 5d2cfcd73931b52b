// The rollout controller: level-based, one key per rollout name in a KeyedQueue. Each reconcile
// reads the world (world.ts), maps every device to a planner state (progress.ts), asks the pure
// planner (plan.ts) what to do, and carries the actions out:
//
// - start: write the revision's signed manifest into the device's desired `update`, then record
//   the start (a crash in between leaves a device that is simply started again: same value);
// - time-out: record the device as failed (`timeout`): a bricked device never reports;
// - roll-back: record that the hub takes the update back (or, from a device that committed a
//   revertible version, asks it to go back); the level rule below writes it;
// - halt / complete: record the decision (with its evidence) and an event of type `rollout`.
//
// Then the level rule: every device holding a desired `update` of this rollout that it should no
// longer hold (another revision's, or a halted one's) has it withdrawn, unless it runs it; after
// a halt, one that runs a revertible version is asked to go back to the version before.
//
// A rollout that no longer exists (deleted) has its desired `update` taken back from every device
// that holds it; the devices keep the version they run.
//
// Active rollouts are looked at every tick (1 s) on the injected clock, and reconciled only when
// something changed for them (a device's report, the API) or their time came (rollout-index.ts):
// a tick with nothing changed costs next to nothing. The API adds a key on every change. After a hub restart every rollout is looked at again, and time-outs count from
// the restart at the earliest.

import { type Clock, KeyedQueue, type Logger, type Timer } from '@homeostat/kit';
import { canonicalJson, isHomeostatError } from '@homeostat/protocol';
import type { DesiredWriter } from '../controllers/deployments.js';
import type { EventLog } from '../events.js';
import type { DeviceRecord, RolloutDeviceRecord, Store } from '../store/store.js';
import { cohortRates, type Member } from './cohorts.js';
import { planRollout, type RolloutAction, type RolloutPlan } from './plan.js';
import {
  countsOf,
  desiredUpdateOf,
  FINISHED_PHASES,
  type Observed,
  plannerView,
  strategyOf,
  UPDATE_KEY,
  withdrawals,
} from './progress.js';
import { RolloutIndex } from './rollout-index.js';
import { currentRevisions, loadWorld, observeWorld, type World } from './world.js';

export interface RolloutControllerDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  writer: DesiredWriter;
  events: EventLog;
  /** How often active rollouts are looked at, ms. Default 1000. */
  tickMs?: number;
  /** How often an active rollout is read whole again, whatever the events said, ms. Default 30000. */
  resyncMs?: number;
}

const DEFAULT_TICK_MS = 1000;
const DEFAULT_RESYNC_MS = 30_000;
/** Waiting on devices only: nothing but their reports and their time-outs can change the plan. */
const WAITING_ON_DEVICES = /^(wave \d+ in progress|maxUnavailable reached|paused)$/;

export class RolloutController {
  readonly #deps: RolloutControllerDeps;
  readonly #queue: KeyedQueue<string>;
  /** Rollouts to look at every tick: those not known to be finished and settled. */
  readonly #active = new Set<string>();
  readonly #index: RolloutIndex;
  #tick: Timer | undefined;
  #startedAt = 0;

  constructor(deps: RolloutControllerDeps) {
    this.#deps = deps;
    this.#index = new RolloutIndex(deps.resyncMs ?? DEFAULT_RESYNC_MS);
    this.#queue = new KeyedQueue<string>({
      clock: deps.clock,
      work: (name) => this.reconcile(name),
      retryInitialMs: 100,
      retryMaxMs: 30_000,
      onError: (name, err, failures, retryInMs) => {
        const log = failures > 3 ? deps.logger.error.bind(deps.logger) : deps.logger.warn.bind(deps.logger);
        log({ err, rollout: name, failures, retryInMs }, 'rollout reconcile failed; retrying');
      },
    });
  }

  /** Looks at every rollout now (the hub may have stopped mid-way), then the active ones every tick. */
  async start(): Promise<void> {
    this.#startedAt = this.#deps.clock.now();
    for (const r of await this.#deps.store.listRollouts()) this.rolloutChanged(r.name);
    this.#queue.start();
    this.#tick = this.#deps.clock.setInterval(() => this.tick(), this.#deps.tickMs ?? DEFAULT_TICK_MS);
  }

  async stop(): Promise<void> {
    this.#tick?.cancel();
    await this.#queue.stop();
  }

  /** Queues the active rollouts that something changed for, or whose time came. */
  tick(): void {
    const now = this.#deps.clock.now();
    for (const name of this.#active) if (this.#index.needs(name, now)) this.#queue.add(name);
  }

  rolloutChanged(name: string): void {
    this.#index.invalidate(name);
    this.#active.add(name);
    this.#queue.add(name);
  }

  /**
   * A device was created or relabelled, or reported `update` or `firmware`: the active rollouts
   * read it again at the next tick (and only it).
   */
  deviceChanged(name: string): void {
    this.#index.deviceChanged(name);
  }

  /** Keys in the work queue and the age of the oldest, for the hub's own loop. */
  stats(): { depth: number; oldestMs: number } {
    return this.#queue.stats();
  }

  /** Resolves once no key waits (for tests). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async reconcile(name: string): Promise<void> {
    const { store, clock } = this.#deps;
    const now = clock.now();
    const devices = await this.#index.devices(store, name, now);
    const world = await loadWorld(store, name, { devices, revisions: await currentRevisions(store), sorted: true });
    if (!world) {
      this.#index.forget(name);
      await this.#release(name);
      this.#active.delete(name);
      return;
    }
    const observed = observeWorld(world, now, this.#startedAt);
    await store.saveRolloutDevices(name, world.revision.revision, observed.changed);
    const failures: unknown[] = [];
    const { revision } = world;
    let due = Number.POSITIVE_INFINITY;
    if (!FINISHED_PHASES.has(revision.phase)) {
      const plan = await this.#plan(world, observed, now);
      await this.#execute(world, observed, plan, now, failures);
      due = dueAt(world, observed, plan, now);
    }
    this.#index.setDue(name, due);
    // The plan may have finished the revision: the level rule reads its phase as it is now.
    const current = (await store.getRolloutRevision(name, revision.revision)) ?? revision;
    const withdraw = withdrawals(name, current, world.devices);
    const byName = new Map(world.devices.map((d) => [d.name, d]));
    // Decided on the devices as read before the plan: one the plan has just started since (the
    // canary of a revision that supersedes a halted one) is judged again as it is now.
    const withdrawal = (d: DeviceRecord) => {
      const w = withdrawals(name, current, [d])[0];
      return w === undefined ? null : { value: w.update };
    };
    for (const w of withdraw) await this.#write(byName.get(w.device), withdrawal, failures);
    if (FINISHED_PHASES.has(current.phase) && withdraw.length === 0 && failures.length === 0) {
      this.#active.delete(name);
    }
    if (failures.length > 0) {
      throw new AggregateError(failures, `rollout ${name}: ${failures.length} devices could not be written`);
    }
  }

  async #plan(world: World, observed: Observed, now: number): Promise<RolloutPlan> {
    const { revision } = world;
    const strategy = strategyOf(revision);
    const updating = observed.devices.some((d) => d.state === 'updating' || d.state === 'rolling-back');
    // Behaviour is compared only at a wave boundary, where the planner reads it.
    const rates = updating
      ? {}
      : await cohortRates(this.#deps.store, revision.spec.gates.behaviour, ...this.#cohorts(world, observed), now);
    return planRollout(strategy, plannerView(revision, observed.rows.values(), now), observed.devices, rates, now);
  }

  #cohorts(world: World, observed: Observed): [Member[], Member[]] {
    const byName = new Map(world.devices.map((d) => [d.name, d]));
    const updated: Member[] = [];
    const notUpdated: Member[] = [];
    for (const d of observed.devices) {
      const device = byName.get(d.name);
      if (device === undefined) continue;
      if (d.state === 'succeeded') updated.push({ device, since: d.since });
      else if (d.state === 'pending') notUpdated.push({ device, since: world.revision.createdAt });
    }
    return [updated, notUpdated];
  }

  async #execute(world: World, observed: Observed, plan: RolloutPlan, now: number, failures: unknown[]): Promise<void> {
    const { store } = this.#deps;
    const { rollout, revision } = world;
    const byName = new Map(world.devices.map((d) => [d.name, d]));
    const saved: RolloutDeviceRecord[] = [];
    const record = (device: string, fields: Partial<RolloutDeviceRecord>) => {
      const row = observed.rows.get(device);
      if (row === undefined) return;
      Object.assign(row, fields);
      saved.push(row);
    };
    let started = 0;
    const update = { manifest: revision.manifest, rollout: rollout.name };
    const starts = plan.actions.filter((a): a is Extract<RolloutAction, { kind: 'start' }> => a.kind === 'start');
    // When each device was asked: writing a big wave takes a while, and each device's time-out
    // counts from its own start.
    const startedAt = await this.#writeAll(
      starts.map((a) => byName.get(a.device)),
      () => ({ value: update }),
      failures,
    );
    starts.forEach((action, k) => {
      const at = startedAt[k];
      if (at === null || at === undefined) return;
      const row: RolloutDeviceRecord = {
        device: action.device,
        wave: action.wave,
        startedAt: at,
        outcome: null,
        outcomeAt: null,
        code: null,
        rolledBack: false,
        rollbackRequestedAt: null,
      };
      observed.rows.set(action.device, row);
      saved.push(row);
      started++;
    });
    for (const action of plan.actions) {
      if (action.kind === 'time-out') {
        record(action.device, { outcome: 'failed', outcomeAt: now, code: 'timeout' });
      } else if (action.kind === 'roll-back') {
        // A device that committed goes back only when the signer made the version revertible (no
        // downgrade otherwise): it is counted as stranded.
        const outcome = observed.rows.get(action.device)?.outcome;
        if (outcome === null || (outcome === 'succeeded' && revision.manifest.signed.revertible === true)) {
          record(action.device, { rollbackRequestedAt: now });
        }
      }
    }
    await store.saveRolloutDevices(rollout.name, revision.revision, saved);
    const decision = plan.actions.find(
      (a): a is Extract<RolloutAction, { kind: 'halt' | 'complete' }> => a.kind === 'halt' || a.kind === 'complete',
    );
    if (decision !== undefined) {
      await this.#finish(world, observed, decision, now);
      return;
    }
    // The soak counts from when the wave finished, kept across restarts.
    const stillUpdating = [...observed.rows.values()].some((r) => r.outcome === null && r.rollbackRequestedAt === null);
    const waveFinishedAt = started > 0 || stillUpdating ? null : (revision.waveFinishedAt ?? now);
    if (waveFinishedAt !== revision.waveFinishedAt) {
      await store.updateRolloutRevision(rollout.name, revision.revision, { waveFinishedAt });
    }
  }

  async #finish(
    world: World,
    observed: Observed,
    decision: Extract<RolloutAction, { kind: 'halt' | 'complete' }>,
    now: number,
  ): Promise<void> {
    const { rollout, revision } = world;
    const name = rollout.name;
    const { version } = revision.spec.artifact;
    const data = { rollout: name, revision: revision.revision, artifact: revision.spec.artifact.name, version };
    if (decision.kind === 'complete') {
      await this.#deps.store.updateRolloutRevision(name, revision.revision, {
        phase: 'complete',
        finishedAt: now,
        counts: countsOf(observed, 'complete'),
      });
      this.#record('info', `rollout ${name} revision ${revision.revision} (${version}) complete`, data);
      return;
    }
    const halt = { at: now, revision: revision.revision, reason: decision.reason, evidence: decision.evidence };
    const counts = countsOf(observed, 'halted');
    await this.#deps.store.updateRolloutRevision(name, revision.revision, {
      phase: 'halted',
      halt,
      finishedAt: now,
      counts,
    });
    this.#record('warning', `rollout ${name} revision ${revision.revision} (${version}) halted: ${decision.reason}`, {
      ...data,
      evidence: decision.evidence,
      stranded: counts.stranded,
      rollbackRequested: counts.rollbackRequested,
    });
  }

  /** A deleted rollout: its desired `update` is taken back from every device holding it. */
  async #release(name: string): Promise<void> {
    const failures: unknown[] = [];
    const holding = (await this.#deps.store.listDevices()).filter((d) => desiredUpdateOf(d)?.rollout === name);
    const release = (d: DeviceRecord) => (desiredUpdateOf(d)?.rollout === name ? { value: undefined } : null);
    await this.#writeAll(holding, release, failures);
    if (failures.length > 0) {
      throw new AggregateError(failures, `rollout ${name} (deleted): ${failures.length} devices could not be written`);
    }
  }

  #record(severity: 'info' | 'warning', message: string, data: Record<string, unknown>): void {
    this.#deps.events.record({ device: null, type: 'rollout', code: null, severity, message, data });
  }

  /**
   * `#write` over many devices, several at once: one at a time, each write would wait its turn
   * behind everything else the hub's loop has to do, and a wave of thousands would take minutes.
   * For each device, when it held the value (null: not written).
   */
  async #writeAll(devices: readonly (DeviceRecord | undefined)[], decide: Decide, failures: unknown[]) {
    const at: (number | null)[] = [];
    for (let i = 0; i < devices.length; i += WRITES_AT_ONCE) {
      const chunk = devices.slice(i, i + WRITES_AT_ONCE);
      const written = await Promise.all(
        chunk.map(async (d) => ((await this.#write(d, decide, failures)) ? this.#deps.clock.now() : null)),
      );
      at.push(...written);
    }
    return at;
  }

  /**
   * Sets (or, with undefined, removes) a device's desired `update` to what `decide` says of the
   * device when it differs; true when the device holds that value now, false when `decide` says
   * nothing is to be written. A device whose desired state changed since it was read is read
   * again once and decided anew: a decision taken on what it held before is never written over
   * what it holds now. A deleted device is skipped.
   */
  async #write(device: DeviceRecord | undefined, decide: Decide, failures: unknown[]): Promise<boolean> {
    const { store, writer } = this.#deps;
    let current = device;
    for (let attempt = 0; attempt < 2 && current !== undefined; attempt++) {
      const decided = decide(current);
      if (decided === null) return false;
      const { value } = decided;
      if (sameUpdate(desiredUpdateOf(current) ?? current.desired.state[UPDATE_KEY], value)) return true;
      try {
        await writer.setDesiredKey(current.name, current.desired.version, UPDATE_KEY, value);
        this.#index.deviceChanged(current.name);
        return true;
      } catch (err) {
        if (isHomeostatError(err) && err.code === 'ERR_DEVICE_NOT_FOUND') return false;
        if (!(isHomeostatError(err) && err.code === 'ERR_TWIN_VERSION_CONFLICT') || attempt === 1) {
          failures.push(err);
          return false;
        }
        current = await store.getDevice(current.name);
      }
    }
    return false;
  }
}

/** What a device's desired `update` should be, decided on the device as read; null: leave it. */
type Decide = (device: DeviceRecord) => { value: unknown } | null;

/** Desired-state writes of one wave in flight at once. */
const WRITES_AT_ONCE = 64;

/**
 * When time alone could change a progressing rollout's plan: at once after it acted (and for
 * anything the planner waits on that is not a device: the rate limit, a maintenance window,
 * behaviour measured during the soak), at the soak's end, or, waiting on devices only, at the
 * first time-out of a device updating.
 */
function dueAt(world: World, observed: Observed, plan: RolloutPlan, now: number): number {
  const { strategy, gates } = world.revision.spec;
  if (plan.actions.length > 0) return now;
  let timeout = Number.POSITIVE_INFINITY;
  for (const d of observed.devices) {
    if (d.state === 'updating') timeout = Math.min(timeout, d.since + strategy.deviceTimeoutMs);
  }
  const waiting = plan.waiting ?? '';
  if (WAITING_ON_DEVICES.test(waiting)) return timeout;
  if (waiting.startsWith('soaking') && gates.behaviour.length === 0) {
    return Math.min(timeout, (world.revision.waveFinishedAt ?? now) + strategy.soakMs);
  }
  return now;
}

function sameUpdate(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
