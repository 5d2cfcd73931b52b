// Installing one update, as a plan of steps carried out one at a time: check the manifest,
// download (resuming a partial file), verify the bytes, stage into the inactive slot, switch to
// it on trial, probe the new version, then commit or roll back. An agent killed at any moment
// carries on from a journal, written only where a restart needs it, twice per update (each write
// is a durable one: flash wear on a device, and most of the work of a simulated fleet):
// - at install (done: null): a restart before the switch runs the steps again from the check.
//   They are repeatable: the check is cheap, the download resumes from the partial file's size,
//   verify hashes again, stage copies again.
// - right after the switch (done: 'switch'): a restart during the trial is the slots' business
//   (their boot counter rolls back), and a restart after the commit finds the committed version
//   active, so only the commit's recording is left to do (planUpdate).
// The device therefore always runs a valid version.

import { mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, sleep } from '@homeostat/kit';
import type { ArtifactManifest, SignedManifest } from '@homeostat/protocol';
import { AgentError } from '../errors.js';
import type { DurableRecord } from './record.js';
import type { BootOutcome, BootSlots, BootState } from './slots.js';
import { type TrustStore, verifyArtifactBytes } from './trust.js';

export const UPDATE_STEPS = ['check', 'download', 'verify', 'stage', 'switch', 'probe', 'commit'] as const;
export type UpdateStep = (typeof UPDATE_STEPS)[number];

/**
 * What the journal records: the update, and the last step completed that a restart must know of:
 * null or 'switch' (a journal an earlier agent wrote after every step still plans right).
 */
export interface Journal {
  manifest: SignedManifest;
  done: UpdateStep | null;
}

/**
 * The steps left, from the journal and the slots as the agent started. Pure: the tests read the
 * plan for every point an agent can be killed at.
 */
export function planUpdate(journal: Journal | null, boot: BootOutcome, state: BootState): UpdateStep[] | 'interrupted' {
  if (journal === null) return [];
  // Killed on trial and started again: the slots rolled back.
  if (boot.kind === 'rolled-back') return 'interrupted';
  // Killed after the switch, on the first boot of the trial: the probe starts over.
  if (boot.kind === 'trial') return ['probe', 'commit'];
  const next = journal.done === null ? 0 : UPDATE_STEPS.indexOf(journal.done) + 1;
  if (next <= UPDATE_STEPS.indexOf('switch')) return UPDATE_STEPS.slice(next);
  // Past the switch with no trial left: either the commit happened (the new version is active;
  // finish recording it) or the trial ended in a rollback before the journal said so.
  const active = state.slots[state.active];
  const m = journal.manifest.signed;
  const committed =
    active !== null && active.name === m.name && active.version === m.version && active.sha256 === m.sha256;
  return committed ? ['commit'] : 'interrupted';
}

export interface ArtifactSource {
  /** Appends the artifact's bytes from `offset` to `file` (a range request); rejects on failure. */
  download(manifest: ArtifactManifest, file: string, offset: number, signal: AbortSignal): Promise<void>;
}

/** The new version's health: the agent reconnected, its modules are healthy, the artifact's own checks. */
export type Probe = (manifest: ArtifactManifest, signal: AbortSignal) => Promise<{ healthy: boolean; reason?: string }>;

export type UpdateOutcome =
  | { result: 'committed'; manifest: ArtifactManifest }
  | { result: 'rolled-back'; manifest: ArtifactManifest; code: string; reason: string }
  | { result: 'refused'; manifest: ArtifactManifest | null; code: string; reason: string };

export interface UpdaterOptions {
  /** Where the partial download lives. */
  dir: string;
  /** The update in progress, written at install and after the switch (see the top of this file). */
  journal: DurableRecord<Journal>;
  slots: BootSlots;
  trust: TrustStore;
  source: ArtifactSource;
  probe: Probe;
  clock: Clock;
  device: { model: string };
  /** How long the new version has to prove healthy, ms. Default 60000. */
  probeWindowMs?: number;
  /** Between probes, ms. Default 1000. */
  probeEveryMs?: number;
  /** Each step as it completes, for reports and tests. */
  onStep?: (step: UpdateStep, manifest: ArtifactManifest) => void;
}

export class Updater {
  readonly #o: UpdaterOptions;

  constructor(options: UpdaterOptions) {
    this.#o = options;
  }

  get #partial(): string {
    return join(this.#o.dir, 'download.part');
  }

  /** The update in progress, if any. */
  journal(): Journal | null {
    return this.#o.journal.read();
  }

  /**
   * Drops the journal's update when it has not switched yet (it was withdrawn); false, keeping it,
   * when it is past the switch: a version on trial finishes its probe.
   */
  abandon(): boolean {
    const journal = this.journal();
    if (journal === null) return true;
    if (journal.done !== null && UPDATE_STEPS.indexOf(journal.done) >= UPDATE_STEPS.indexOf('switch')) return false;
    this.#finish({ result: 'refused', manifest: journal.manifest.signed, code: 'ERR_UPDATE_WITHDRAWN', reason: '' });
    return true;
  }

  /** Starts installing a signed manifest (its checks come first). */
  async install(manifest: SignedManifest, signal: AbortSignal): Promise<UpdateOutcome> {
    if (this.journal() !== null) throw new Error('updater: an update is in progress already');
    mkdirSync(this.#o.dir, { recursive: true });
    removeFile(this.#partial);
    this.#o.journal.write({ manifest, done: null });
    return this.resume({ kind: 'normal' }, signal);
  }

  /** Carries on with the journal's update after a start, given what the slots said at boot. */
  async resume(boot: BootOutcome, signal: AbortSignal): Promise<UpdateOutcome> {
    const journal = this.journal();
    if (journal === null) throw new Error('updater: nothing to resume');
    const manifest = journal.manifest.signed;
    const plan = planUpdate(journal, boot, this.#o.slots.read());
    if (plan === 'interrupted') {
      return this.#finish({
        result: 'rolled-back',
        manifest,
        code: 'ERR_UPDATE_INTERRUPTED',
        reason: `the device restarted while ${manifest.name} ${manifest.version} was on trial`,
      });
    }
    for (const step of plan) {
      // Stopped between two steps: the next resume plans again from the journal.
      signal.throwIfAborted();
      try {
        const outcome = await this.#run(step, journal.manifest, signal);
        if (outcome !== null) return this.#finish(outcome);
      } catch (err) {
        // Stopped, or a failure worth retrying (the network): the journal stays, and the next
        // resume carries on (a download from the bytes it has, the steps before it again).
        if (signal.aborted || !(err instanceof AgentError)) throw err;
        const code = err.code;
        // Before the switch, the device never left its version: the update is refused.
        return this.#finish({ result: 'refused', manifest, code, reason: (err as Error).message });
      }
      if (step === 'switch') this.#o.journal.write({ manifest: journal.manifest, done: step });
      this.#o.onStep?.(step, manifest);
    }
    return this.#finish({ result: 'committed', manifest });
  }

  async #run(step: UpdateStep, doc: SignedManifest, signal: AbortSignal): Promise<UpdateOutcome | null> {
    const { slots, trust, clock, device } = this.#o;
    const manifest = doc.signed;
    switch (step) {
      case 'check':
        trust.verifyManifest(doc, device, clock.now());
        return null;
      case 'download': {
        let have = statSync(this.#partial, { throwIfNoEntry: false })?.size ?? 0;
        // More than the manifest says can only be a bad file: start again.
        if (have > manifest.size) {
          removeFile(this.#partial);
          have = 0;
        }
        if (have < manifest.size) await this.#o.source.download(manifest, this.#partial, have, signal);
        return null;
      }
      case 'verify':
        try {
          verifyArtifactBytes(manifest, readFileSync(this.#partial));
        } catch (err) {
          // The next attempt downloads from the start.
          removeFile(this.#partial);
          throw err;
        }
        return null;
      case 'stage':
        slots.stage(this.#partial, {
          name: manifest.name,
          version: manifest.version,
          sha256: manifest.sha256,
          size: manifest.size,
        });
        return null;
      case 'switch':
        slots.switchToStaged(clock.now());
        // The agent starts on the new version here (the simulator's "reboot"): count that boot.
        slots.boot();
        return null;
      case 'probe':
        return this.#probe(manifest, signal);
      case 'commit':
        slots.commit();
        trust.recordInstalled(manifest);
        return null;
    }
  }

  /** Probes until healthy (null: go on to commit) or the window closes (rolled back). */
  async #probe(manifest: ArtifactManifest, signal: AbortSignal): Promise<UpdateOutcome | null> {
    const { clock, slots } = this.#o;
    const window = this.#o.probeWindowMs ?? 60_000;
    const every = this.#o.probeEveryMs ?? 1000;
    const deadline = clock.now() + window;
    let reason = 'no probe completed';
    for (;;) {
      try {
        const result = await this.#o.probe(manifest, signal);
        if (result.healthy) return null;
        reason = result.reason ?? 'unhealthy';
      } catch (err) {
        if (signal.aborted) throw err;
        reason = (err as Error).message;
      }
      if (clock.now() + every > deadline) break;
      await sleep(clock, every, signal);
    }
    slots.rollback();
    return {
      result: 'rolled-back',
      manifest,
      code: 'ERR_UPDATE_PROBE_FAILED',
      reason: `${manifest.name} ${manifest.version} was not healthy within ${window} ms: ${reason}`,
    };
  }

  #finish(outcome: UpdateOutcome): UpdateOutcome {
    removeFile(this.#partial);
    this.#o.journal.clear();
    return outcome;
  }
}

/** Removes a file if it is there: `rmSync` would stat it and walk it as a tree first. */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
