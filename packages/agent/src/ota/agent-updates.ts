// The agent's side of updates: takes the desired `trust` and `update` keys, runs the Updater for
// one update at a time, and reports where it stands (reported `update`, `firmware`, `trust`), with
// an event per outcome. Level-based, like the rest of the agent: whatever the desired state says
// now is compared with what runs, and the gap is closed.
//
// - At start, `boot()` comes first (the slots count the boot, a second start on trial rolls back),
//   then `start()` resumes a journaled update before anything new.
// - A desired update replaced or removed while one installs: the one installing stops before its
//   switch (ERR_UPDATE_WITHDRAWN); past the switch it finishes its probe, then the new one runs.
// - An outcome is remembered (`updates.json`), so the same desired update, still in the twin after
//   a restart, is not installed (or refused) again.
// - The probe is the agent reconnected, its modules healthy, and the release's own checks (the
//   simulator's firmware images, firmware-image.ts), after the new version has run `minUpMs`.
// - A desired update with `revert` takes the device back from a committed version to the one in
//   its other slot, when the version's signed manifest allows it (a rollout halted at a gate).

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, Logger, Timer } from '@homeostat/kit';
import {
  type ArtifactManifest,
  canonicalJson,
  compareVersions,
  DesiredUpdate,
  type PublicKey,
  parser,
  type ReportedFirmware,
  type ReportedUpdate,
  type SignedManifest,
  type UpdateState,
} from '@homeostat/protocol';
import { AgentError } from '../errors.js';
import { readFirmwareImage } from './firmware-image.js';
import { type DurableRecord, FileRecord, MemoryRecord } from './record.js';
import { type BootOutcome, type BootSlots, otherSlot } from './slots.js';
import { TrustStore } from './trust.js';
import {
  type ArtifactSource,
  type Journal,
  UPDATE_STEPS,
  type UpdateOutcome,
  Updater,
  type UpdateStep,
} from './updater.js';

const parseDesired = parser(DesiredUpdate);
/** After a failure worth retrying (the hub unreachable mid-download), ms. */
const RETRY_MS = 5000;
const UNHEALTHY_MODULE = new Set(['crash-loop', 'refused', 'unhealthy']);
/** Why an update in progress was stopped (the abort signal's reason). */
const WITHDRAWN = new Error('the update was withdrawn');
const CRASHED = new Error('the new version crashed on boot');
const STOPPING = new Error('the agent is stopping');

export interface UpdateProbeOptions {
  /** How long a new version has to prove healthy before it is rolled back, ms. Default 60000. */
  windowMs?: number;
  /** Between two probes, ms. Default 1000. */
  everyMs?: number;
  /** A new version runs this long before it is judged (its modules start, it reconnects), ms. Default 5000. */
  minUpMs?: number;
}

export interface AgentUpdatesOptions {
  /**
   * Where `ota/` (journal, partial download, outcomes) and trust.json live; null: the records in
   * memory (like the simulator's boot slots), the partial download in a temp dir.
   */
  dataDir: string | null;
  /** The root public key the device was provisioned with; null refuses every update. */
  rootKey: PublicKey | null;
  slots: BootSlots;
  /** The device model the manifests must target. */
  model: string;
  /** What the device runs while no slot holds an installed artifact (its factory image). */
  factory: ReportedFirmware | null;
  source: ArtifactSource;
  probe: UpdateProbeOptions;
  /** The agent's part of the probe: the link up, no module crash-looping, refused or unhealthy. */
  agent: () => { connected: boolean; modules: Record<string, { state: string }> };
  report: (key: 'update' | 'firmware' | 'trust', value: unknown) => void;
  raise: (event: {
    type: 'alarm' | 'log';
    code: string;
    severity: 'info' | 'warning';
    message: string;
    data: Record<string, unknown>;
  }) => void;
  clock: Clock;
  logger: Logger;
}

interface Running {
  doc: SignedManifest;
  rollout: string | null;
  abort: AbortController;
  pastSwitch: boolean;
  step: UpdateStep | null;
}

/** What `updates.json` keeps: the update in progress (its rollout) and the last outcome. */
interface Remembered {
  current: { key: string; rollout: string | null } | null;
  last: { key: string; state: UpdateState; code: string | null } | null;
}

export class AgentUpdates {
  readonly #o: AgentUpdatesOptions;
  #dir = '';
  #temporary = false;
  #trust: TrustStore | null = null;
  #remembered: DurableRecord<Remembered> = new MemoryRecord();
  #updater: Updater | null = null;
  #boot: BootOutcome = { kind: 'normal' };
  #memory: Remembered = { current: null, last: null };
  #desired: DesiredUpdate | null = null;
  #trustSeen: string | null = null;
  #running: Running | null = null;
  #done: Promise<void> = Promise.resolve();
  #retry: Timer | null = null;
  #switchedAt = 0;
  #state: 'idle' | 'booted' | 'started' | 'stopped' = 'idle';

  constructor(options: AgentUpdatesOptions) {
    this.#o = options;
  }

  /** At agent start, before anything else: the slots count this boot; trust and the journal load. */
  boot(): void {
    const { dataDir, rootKey, slots, clock, factory } = this.#o;
    this.#temporary = dataDir === null;
    this.#dir = dataDir === null ? mkdtempSync(join(tmpdir(), 'homeostat-ota-')) : join(dataDir, 'ota');
    mkdirSync(this.#dir, { recursive: true });
    const record = <T>(name: string): DurableRecord<T> =>
      dataDir === null ? new MemoryRecord() : new FileRecord(join(this.#dir, name));
    this.#remembered = record('updates.json');
    this.#boot = slots.boot();
    if (this.#boot.kind === 'trial') this.#switchedAt = clock.now();
    this.#memory = this.#remembered.read() ?? { current: null, last: null };
    if (rootKey === null) {
      this.#o.logger.warn('agent: no root key provisioned: every update will be refused');
    } else {
      this.#trust = new TrustStore({ root: rootKey, dataDir });
      if (factory !== null) this.#trust.recordInstalled(factory);
      this.#updater = new Updater({
        dir: this.#dir,
        journal: record<Journal>('update.json'),
        slots,
        trust: this.#trust,
        source: this.#o.source,
        probe: (m, signal) => this.#probe(m, signal),
        clock,
        device: { model: this.#o.model },
        ...(this.#o.probe.windowMs !== undefined ? { probeWindowMs: this.#o.probe.windowMs } : {}),
        ...(this.#o.probe.everyMs !== undefined ? { probeEveryMs: this.#o.probe.everyMs } : {}),
        onStep: (step, m) => this.#onStep(step, m),
      });
    }
    this.#state = 'booted';
    this.#reportFirmware();
  }

  /** Once the agent runs: a journaled update carries on first, then whatever is desired. */
  start(): void {
    if (this.#state !== 'booted') return;
    this.#state = 'started';
    this.#reconcile();
  }

  /** Stops an update in progress where it is: its journal stays, and the next start resumes it. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    this.#retry?.cancel();
    this.#running?.abort.abort(STOPPING);
    await this.#done;
    if (this.#temporary && this.#dir !== '') rmSync(this.#dir, { recursive: true, force: true });
  }

  /** The desired `update` and `trust` (undefined when absent), each time a desired state is applied. */
  desired(update: unknown, trust: unknown): void {
    if (trust !== undefined && trust !== null) this.#acceptTrust(trust);
    if (update === undefined || update === null) {
      this.#desired = null;
    } else {
      const parsed = parseDesired.parse(update);
      if (parsed.ok) {
        this.#desired = parsed.value;
      } else {
        this.#desired = null;
        this.#o.logger.warn({ problems: parsed.errors }, 'agent: invalid desired update refused');
        const signed = (update as { manifest?: { signed?: Partial<ArtifactManifest> } }).manifest?.signed;
        this.#reportUpdate({ name: String(signed?.name ?? '?'), version: String(signed?.version ?? '?') }, null, {
          state: 'refused',
          code: 'ERR_UPDATE_MANIFEST_INVALID',
          reason: parsed.errors.join('; '),
        });
      }
    }
    this.#reconcile();
  }

  #acceptTrust(doc: unknown): void {
    const seen = canonicalJson(doc);
    if (seen === this.#trustSeen) return;
    this.#trustSeen = seen;
    if (this.#trust === null) {
      this.#o.report('trust', { error: 'ERR_TRUST_INVALID' });
      return;
    }
    try {
      const list = this.#trust.acceptTrustedKeys(doc, this.#o.clock.now());
      this.#o.report('trust', { version: list.version });
      // An update refused for want of trust may pass now.
      if (this.#memory.last?.state === 'refused') this.#remember({ ...this.#memory, last: null });
    } catch (err) {
      const code = err instanceof AgentError ? err.code : 'ERR_TRUST_INVALID';
      this.#o.logger.warn({ code, err: (err as Error).message }, 'agent: trusted keys refused');
      this.#o.report('trust', { error: code });
    }
  }

  #reconcile(): void {
    if (this.#state !== 'started') return;
    const want = this.#desired;
    // A revert asks to leave the version it names, not to install it.
    const install = want?.revert === true ? undefined : want?.manifest;
    const run = this.#running;
    if (run !== null) {
      if (!this.#same(run.doc, install) && !run.pastSwitch) run.abort.abort(WITHDRAWN);
      return;
    }
    this.#retry?.cancel();
    this.#retry = null;
    const journal = this.#updater?.journal() ?? null;
    if (journal !== null) {
      const current = this.#memory.current;
      const rollout = current?.key === keyOf(journal.manifest) ? current.rollout : (want?.rollout ?? null);
      // An update a restart (or the network) interrupted: it carries on if still wanted or past the switch.
      if (this.#boot.kind !== 'normal' || this.#same(journal.manifest, install) || !this.#updater?.abandon()) {
        this.#launch(journal.manifest, rollout, 'resume');
        return;
      }
      this.#settle(withdrawn(journal.manifest.signed), rollout, null);
    }
    if (want?.revert === true) {
      this.#revert(want);
      return;
    }
    if (want === null || this.#settled(want.manifest)) return;
    if (this.#updater === null) {
      const refused: UpdateOutcome = {
        result: 'refused',
        manifest: want.manifest.signed,
        code: 'ERR_UPDATE_UNTRUSTED_KEY',
        reason: 'this agent was started without a root key (--root-key): it trusts no update',
      };
      this.#settle(refused, want.rollout ?? null, want.manifest);
      return;
    }
    this.#launch(want.manifest, want.rollout ?? null, 'install');
  }

  #launch(doc: SignedManifest, rollout: string | null, mode: 'install' | 'resume'): void {
    const journal = this.#updater?.journal() ?? null;
    const pastSwitch =
      this.#boot.kind === 'trial' ||
      (journal?.done != null && UPDATE_STEPS.indexOf(journal.done) >= UPDATE_STEPS.indexOf('switch'));
    const run: Running = { doc, rollout, abort: new AbortController(), pastSwitch, step: journal?.done ?? null };
    this.#running = run;
    this.#remember({ ...this.#memory, current: { key: keyOf(doc), rollout } });
    this.#reportUpdate(doc.signed, rollout, { state: pastSwitch ? 'probing' : 'installing', step: run.step });
    this.#done = this.#carryOut(run, mode).then(
      (outcome) => {
        if (outcome !== null) this.#settle(outcome, rollout, doc);
        this.#running = null;
        this.#reconcile();
      },
      (err: Error) => {
        this.#running = null;
        this.#o.logger.error({ err: err.message }, 'agent: update failed unexpectedly');
      },
    );
  }

  /** The outcome, or null when the journal stays for later (stopping, or a failure worth a retry). */
  async #carryOut(run: Running, mode: 'install' | 'resume'): Promise<UpdateOutcome | null> {
    const updater = this.#updater;
    if (updater === null) return null;
    try {
      if (mode === 'install') return await updater.install(run.doc, run.abort.signal);
      const boot = this.#boot;
      this.#boot = { kind: 'normal' };
      return await updater.resume(boot, run.abort.signal);
    } catch (err) {
      const why: unknown = run.abort.signal.reason;
      if (why === CRASHED) {
        // The new version took the device down as it started: it starts again, still on trial,
        // and the slots' boot counter sends it back to the previous version.
        this.#o.logger.warn({ version: run.doc.signed.version }, 'agent: the new version crashed on boot');
        run.abort = new AbortController();
        return updater.resume(this.#o.slots.boot(), run.abort.signal);
      }
      if (why === WITHDRAWN && updater.abandon()) return withdrawn(run.doc.signed);
      if (this.#state !== 'started') return null;
      // A failure worth retrying (the hub unreachable): the journal keeps the bytes downloaded.
      const reason = (err as Error).message;
      this.#o.logger.warn({ err: reason }, `agent: update interrupted; retrying in ${RETRY_MS} ms`);
      this.#reportUpdate(run.doc.signed, run.rollout, { state: 'installing', step: run.step, reason });
      this.#retry = this.#o.clock.setTimeout(() => this.#reconcile(), RETRY_MS);
      return null;
    }
  }

  /**
   * Goes back from the version the desired manifest names to the one committed before it (the
   * other slot), when the device runs it committed, a trusted key signed it, and the signer made it
   * `revertible`. The version left stays the highest ever installed: only a higher one comes next.
   * A device that does not run it has nothing to do; a refusal is reported once.
   */
  #revert(want: DesiredUpdate): void {
    const { slots, clock } = this.#o;
    const doc = want.manifest;
    const m = doc.signed;
    const last = this.#memory.last;
    if (last?.key === keyOf(doc) && last.state !== 'committed') return;
    const state = slots.read();
    const active = state.slots[state.active];
    if (active === null || active.name !== m.name || active.version !== m.version || active.sha256 !== m.sha256) return;
    const previous = state.slots[otherSlot(state.active)];
    let outcome: UpdateOutcome;
    try {
      if (this.#trust === null) throw new AgentError('ERR_UPDATE_UNTRUSTED_KEY', 'started without a root key');
      if (this.#trust.verifySignature(doc, clock.now()).revertible !== true) {
        throw new AgentError('ERR_UPDATE_NOT_REVERTIBLE', `${m.name} ${m.version} was signed to stay: no going back`);
      }
      if (previous === null || previous.name !== m.name || compareVersions(previous.version, m.version) >= 0) {
        throw new AgentError('ERR_UPDATE_NOT_REVERTIBLE', `no earlier ${m.name} in the other slot to go back to`);
      }
      slots.revert();
      outcome = {
        result: 'rolled-back',
        manifest: m,
        code: 'ERR_UPDATE_REVERTED',
        reason: `the hub asked to go back from ${m.version}: ${previous.version} runs again`,
      };
    } catch (err) {
      if (!(err instanceof AgentError)) throw err;
      outcome = { result: 'refused', manifest: m, code: err.code, reason: err.message };
    }
    this.#settle(outcome, want.rollout ?? null, doc);
  }

  #onStep(step: UpdateStep, manifest: ArtifactManifest): void {
    const run = this.#running;
    if (run === null) return;
    run.step = step;
    if (step === 'switch') {
      run.pastSwitch = true;
      this.#switchedAt = this.#o.clock.now();
      if (this.#activeImage()?.health === 'crash-on-boot') run.abort.abort(CRASHED);
    }
    if (step === 'commit') return; // the outcome reports it
    const state = UPDATE_STEPS.indexOf(step) >= UPDATE_STEPS.indexOf('switch') ? 'probing' : 'installing';
    this.#reportUpdate(manifest, run.rollout, { state, step });
  }

  async #probe(manifest: ArtifactManifest, signal: AbortSignal): Promise<{ healthy: boolean; reason?: string }> {
    signal.throwIfAborted();
    const minUp = this.#o.probe.minUpMs ?? 5000;
    const up = this.#o.clock.now() - this.#switchedAt;
    if (up < minUp) return { healthy: false, reason: `up ${up} ms, judged after ${minUp} ms` };
    if (this.#activeImage()?.health === 'fail-probe') {
      return { healthy: false, reason: `${manifest.name} ${manifest.version}: its own health check fails` };
    }
    const { connected, modules } = this.#o.agent();
    if (!connected) return { healthy: false, reason: 'not connected to the hub' };
    const sick = Object.entries(modules).filter(([, m]) => UNHEALTHY_MODULE.has(m.state));
    if (sick.length > 0) {
      return { healthy: false, reason: `modules not healthy: ${sick.map(([n, m]) => `${n} ${m.state}`).join(', ')}` };
    }
    return { healthy: true };
  }

  #settle(outcome: UpdateOutcome, rollout: string | null, doc: SignedManifest | null): void {
    const m = outcome.manifest ?? { name: '?', version: '?' };
    const code = outcome.result === 'committed' ? null : outcome.code;
    const reason = outcome.result === 'committed' ? null : outcome.reason;
    this.#remember({
      current: null,
      last: doc === null ? this.#memory.last : { key: keyOf(doc), state: outcome.result, code },
    });
    this.#reportUpdate(m, rollout, { state: outcome.result, step: this.#running?.step ?? null, code, reason });
    this.#reportFirmware();
    const committed = outcome.result === 'committed';
    const event = { committed: 'UPDATE_COMMITTED', 'rolled-back': 'UPDATE_ROLLED_BACK', refused: 'UPDATE_REFUSED' };
    const message = committed
      ? `${m.name} ${m.version} installed and committed`
      : `${m.name} ${m.version} ${outcome.result}: ${reason}`;
    (committed ? this.#o.logger.info : this.#o.logger.warn).call(
      this.#o.logger,
      { code, rollout },
      `agent: ${message}`,
    );
    try {
      this.#o.raise({
        type: committed ? 'log' : 'alarm',
        code: event[outcome.result],
        severity: committed ? 'info' : 'warning',
        message,
        data: { name: m.name, version: m.version, rollout, ...(code !== null ? { error: code } : {}) },
      });
    } catch (err) {
      this.#o.logger.error({ err: (err as Error).message }, 'agent: the update event was not queued');
    }
  }

  /** True when this desired manifest has had its outcome, or is what the active slot runs. */
  #settled(doc: SignedManifest): boolean {
    if (this.#memory.last?.key === keyOf(doc)) return true;
    const state = this.#o.slots.read();
    const active = state.slots[state.active];
    const m = doc.signed;
    return active !== null && active.name === m.name && active.version === m.version && active.sha256 === m.sha256;
  }

  #same(a: SignedManifest, b: SignedManifest | undefined): boolean {
    return b !== undefined && keyOf(a) === keyOf(b);
  }

  #activeImage() {
    const { slots } = this.#o;
    return readFirmwareImage(slots.artifact(slots.read().active));
  }

  #reportUpdate(
    m: Pick<ArtifactManifest, 'name' | 'version'>,
    rollout: string | null,
    at: { state: UpdateState; step?: string | null; code?: string | null; reason?: string | null },
  ): void {
    const report: ReportedUpdate = {
      name: m.name,
      version: m.version,
      rollout,
      state: at.state,
      step: at.step ?? null,
      code: at.code ?? null,
      reason: at.reason ?? null,
      at: this.#o.clock.now(),
    };
    this.#o.report('update', report);
  }

  /** The committed version: one on trial shows in `update` (probing), and the hub counts `firmware` as done. */
  #reportFirmware(): void {
    const state = this.#o.slots.read();
    const active = state.slots[state.trial?.previous ?? state.active];
    const firmware = active !== null ? { name: active.name, version: active.version } : this.#o.factory;
    if (firmware !== null) this.#o.report('firmware', firmware);
  }

  #remember(memory: Remembered): void {
    this.#memory = memory;
    this.#remembered.write(memory);
  }
}

/** A desired update, told apart by all of it (a re-signed manifest is another one). */
function keyOf(doc: SignedManifest): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex');
}

function withdrawn(manifest: ArtifactManifest): UpdateOutcome {
  return {
    result: 'refused',
    manifest,
    code: 'ERR_UPDATE_WITHDRAWN',
    reason: `${manifest.name} ${manifest.version} was withdrawn before the switch`,
  };
}
