// Which models the hub runs, and for whom: a device that cannot run a model module (it lacks the
// execution provider or the memory the model requires) reports the module with `placement: "hub"`;
// from then on the hub runs that model on the device's readings (HubModels, the same scorer and
// runner as on a device) and stores what it derives as the device's readings. Level-based: on
// every reported change of a device's `modules`, the set the hub runs for it is computed again
// from its twin (desired spec, reported placement) and the difference applied.

import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { type ModelBytes, type ModelStore, sha256Hex } from '@homeostat/inference';
import type { Logger } from '@homeostat/kit';
import { isPlainObject, type ModelConfig } from '@homeostat/protocol';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import type { EventLog } from '../events.js';
import type { Reading, Store } from '../store/store.js';
import type { DerivedReading, HubModels } from './hub-models.js';

/** The model modules of a device that run in the hub: reported placed there at the desired rev. */
export function hubPlacedModels(
  desired: Record<string, unknown>,
  reported: Record<string, unknown>,
): Map<string, { rev: string; config: ModelConfig }> {
  const out = new Map<string, { rev: string; config: ModelConfig }>();
  const want = isPlainObject(desired.modules) ? desired.modules : {};
  const have = isPlainObject(reported.modules) ? reported.modules : {};
  for (const [name, d] of Object.entries(want)) {
    const r = have[name];
    if (!isPlainObject(d) || !isPlainObject(r) || !isPlainObject(d.spec)) continue;
    if (d.spec.kind !== 'model' || r.placement !== 'hub' || r.rev !== d.rev || typeof d.rev !== 'string') continue;
    out.set(name, { rev: d.rev, config: d.spec.config as ModelConfig });
  }
  return out;
}

/** The hub's artifact store as a model store: model files are artifacts pushed by hash. */
export class ArtifactModelStore implements ModelStore {
  readonly #artifacts: ArtifactStore;

  constructor(artifacts: ArtifactStore) {
    this.#artifacts = artifacts;
  }

  async put(model: ModelBytes): Promise<void> {
    if (await this.has(model.sha256)) return;
    await this.#artifacts.putBlob(model.sha256, Readable.from([Buffer.from(model.bytes)]));
  }

  async get(sha256: string): Promise<Uint8Array | null> {
    try {
      const bytes = new Uint8Array(await readFile(this.#artifacts.blobPath(sha256)));
      // Blobs are kept only when their hash matched on upload; checked again all the same.
      return sha256Hex(bytes) === sha256 ? bytes : null;
    } catch {
      return null;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.#artifacts.blobSize(sha256)) !== undefined;
  }

  async delete(): Promise<void> {
    // Artifacts are removed through their own API, not by a model's user.
  }
}

export interface HubPlacementDeps {
  store: Store;
  events: EventLog;
  models: HubModels;
  logger: Logger;
}

export class HubPlacement {
  readonly #deps: HubPlacementDeps;
  /** By device: module name → rev the hub runs. */
  readonly #running = new Map<string, Map<string, string>>();
  #paused = false;
  #unsubscribe: (() => void) | null = null;
  /** One reconcile at a time per device, in order. */
  readonly #queue = new Map<string, Promise<void>>();

  constructor(deps: HubPlacementDeps) {
    this.#deps = deps;
  }

  /** Places what the stored twins say, then follows devices' reports. */
  /** Paused by the hub's own loop while it sheds work; readings stored meanwhile derive nothing. */
  setPaused(paused: boolean): void {
    this.#paused = paused;
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#deps.events.signals.on('reported', (r) => {
      if ('modules' in r.state) this.reconcile(r.device);
    });
    for (const d of await this.#deps.store.listDevices()) {
      if (hubPlacedModels(d.desired.state, d.reported.state).size > 0) this.reconcile(d.name);
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await Promise.all(this.#queue.values());
    await this.#deps.models.close();
    this.#running.clear();
  }

  /** Whether the hub runs any model for this device (the ingest path asks before doing work). */
  runsFor(device: string): boolean {
    return (this.#running.get(device)?.size ?? 0) > 0;
  }

  /**
   * Readings just stored: what the hub-placed models of their devices derive from them, handed to
   * `store` as readings of the device. A derived reading carries seq −ts (a device's own seqs are
   * never negative, so the two never collide, and a value derived twice for one time is stored
   * once); derived readings are not fed to models again.
   */
  onStored(readings: readonly Reading[], store: (derived: Reading[]) => Promise<unknown>): void {
    // The usual case, on every telemetry commit: no device has a model in the hub. Paused, the
    // hub sheds this work while it is short (its own loop): these readings derive nothing.
    if (this.#running.size === 0 || this.#paused) return;
    for (const r of readings) {
      if (r.seq < 0 || !this.runsFor(r.device)) continue;
      void this.#derive(r.device, r.ts, r.metrics)
        .then(async (derived) => {
          if (derived.length === 0) return;
          const metrics: Record<string, number> = {};
          for (const d of derived) metrics[d.metric] = d.value;
          await store([{ device: r.device, seq: -r.ts, ts: r.ts, metrics }]);
        })
        .catch((err: Error) =>
          this.#deps.logger.warn({ err: err.message, device: r.device }, 'could not store a value derived in the hub'),
        );
    }
  }

  async #derive(device: string, ts: number, metrics: Record<string, number>): Promise<DerivedReading[]> {
    try {
      return await this.#deps.models.onReading(device, ts, metrics);
    } catch (err) {
      this.#deps.logger.warn({ err: (err as Error).message, device }, 'hub-placed model failed on a reading');
      return [];
    }
  }

  reconcile(device: string): Promise<void> {
    const previous = this.#queue.get(device) ?? Promise.resolve();
    const next = previous
      .then(() => this.#reconcile(device))
      .catch((err: Error) => {
        this.#deps.logger.error({ err: err.message, device }, 'could not place the models of a device in the hub');
      });
    this.#queue.set(device, next);
    void next.finally(() => {
      if (this.#queue.get(device) === next) this.#queue.delete(device);
    });
    return next;
  }

  async #reconcile(device: string): Promise<void> {
    const record = await this.#deps.store.getDevice(device);
    const want = record ? hubPlacedModels(record.desired.state, record.reported.state) : new Map();
    const running = this.#running.get(device) ?? new Map<string, string>();
    for (const [name, rev] of running) {
      if (want.get(name)?.rev === rev) continue;
      await this.#deps.models.remove(device, name);
      running.delete(name);
    }
    for (const [name, { rev, config }] of want) {
      if (running.get(name) === rev) continue;
      await this.#deps.models.place(device, name, config);
      running.set(name, rev);
      this.#deps.events.record({
        device,
        type: 'module',
        code: null,
        severity: 'info',
        message: `model module ${name} runs in the hub for ${device} (the device cannot run it)`,
        data: { module: name, rev, placement: 'hub' },
      });
    }
    if (running.size > 0) this.#running.set(device, running);
    else this.#running.delete(device);
  }
}
