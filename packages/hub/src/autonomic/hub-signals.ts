// Monitor for the hub itself: on a tick of the injected clock, samples the store's size against
// its budget, the free disk under the data directory, the ingest writer's backlog and the age of
// its write, and the controllers' queues; each value is a gauge on /metrics and a signal for the
// policies of scope hub (the manager applies their thresholds, hold times and hysteresis).

import { statfs } from 'node:fs/promises';
import type { Clock, Logger, Timer } from '@homeostat/kit';
import type { HubMetric } from '@homeostat/protocol';
import type { IngestBatcher } from '../ingest/batcher.js';
import type { HubMetrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { Monitor } from './signals.js';

/** A controller's work queue, as the loop sees it. */
export interface QueueProbe {
  name: string;
  stats(): { depth: number; oldestMs: number };
}

export interface HubSamplerDeps {
  clock: Clock;
  logger: Logger;
  metrics: HubMetrics;
  monitor: Monitor;
  store: Store;
  ingest: IngestBatcher;
  controllers: readonly QueueProbe[];
  /** The store's budget, bytes. */
  storeBudgetBytes: number;
  /** Where the store lives, for the free disk; null when it is in memory. */
  dataDir: string | null;
  /** How often the hub samples itself, ms. */
  sampleMs: number;
}

export type HubSample = Partial<Record<HubMetric, number>> & { evidence: Record<string, unknown> };

export class HubSampler {
  readonly #deps: HubSamplerDeps;
  #timer: Timer | undefined;
  #sampling: Promise<void> | undefined;

  constructor(deps: HubSamplerDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#timer = this.#deps.clock.setInterval(() => void this.sample(), this.#deps.sampleMs);
  }

  async stop(): Promise<void> {
    this.#timer?.cancel();
    await this.#sampling;
  }

  /** One sample now, its signals emitted; a sample in progress is not started twice. */
  sample(): Promise<void> {
    this.#sampling ??= this.#sample().finally(() => {
      this.#sampling = undefined;
    });
    return this.#sampling;
  }

  async #sample(): Promise<void> {
    const { clock, metrics, monitor, logger } = this.#deps;
    let values: HubSample;
    try {
      values = await this.measure();
    } catch (err) {
      logger.warn({ err }, 'the hub could not sample itself; it tries again on the next tick');
      return;
    }
    const at = clock.now();
    const { evidence, ...measured } = values;
    for (const [metric, value] of Object.entries(measured) as [HubMetric, number][]) {
      metrics.hubSignal.set({ metric }, value);
      monitor.signals.emit('signal', { kind: 'hub', metric, value, at, evidence });
    }
  }

  /** What the hub measures about itself now; a metric it cannot measure (the disk of a store in memory) is absent. */
  async measure(): Promise<HubSample> {
    const { store, ingest, controllers, storeBudgetBytes, dataDir } = this.#deps;
    const bytes = await store.sizeBytes();
    const queues = controllers.map((c) => ({ name: c.name, ...c.stats() }));
    const out: HubSample = {
      'store-bytes': bytes,
      'store-budget-ratio': round(bytes / storeBudgetBytes),
      'ingest-backlog': ingest.backlog,
      'ingest-write-ms': ingest.writeMs(),
      'controller-queue-depth': Math.max(0, ...queues.map((q) => q.depth)),
      'controller-lag-ms': Math.max(0, ...queues.map((q) => q.oldestMs)),
      evidence: { storeBudgetBytes, controllers: queues },
    };
    if (dataDir !== null) {
      const fs = await statfs(dataDir);
      out['disk-free-bytes'] = Number(fs.bavail) * Number(fs.bsize);
    }
    return out;
  }
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
