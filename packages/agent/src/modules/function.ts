// The `function` module kind: a JavaScript handler in a worker thread (function-worker.ts) with a
// heap limit (memoryMb, through the worker's resourceLimits) and a time limit per call (timeoutMs,
// enforced from this thread: a handler still running when it expires has its worker terminated,
// which stops even `while (true) {}`). Either is a crash of the module, restarted by the
// supervisor in a fresh worker; the agent's own thread is never blocked by a handler.
//
// One call is in flight at a time; samples arriving meanwhile wait in a short queue (the oldest
// dropped beyond it). What the handler returns, `{metrics?, events?, actuate?}`, is checked here
// and goes through the module's context, so its permissions apply.

import { Worker } from 'node:worker_threads';
import type { Timer } from '@homeostat/kit';
import type { FunctionConfig } from '@homeostat/protocol';
import type { RaiseEventInput } from '../agent.js';
import { LineLimiter } from './log-lines.js';
import {
  type HealthResult,
  type ModuleContext,
  type ModuleKindRunner,
  ModuleRefused,
  type RunningModule,
  type Sample,
} from './module.js';

const DEFAULT_TIMEOUT_MS = 100;
const DEFAULT_MEMORY_MB = 32;
/** A worker that is not ready this long after spawning is a crash, ms. */
const READY_TIMEOUT_MS = 10_000;
/** Samples waiting for the handler; beyond, the oldest is dropped. */
const QUEUE_LIMIT = 100;
const EVENT_TYPES = new Set(['alarm', 'action', 'log']);

const WORKER_URL = new URL('./function-worker.js', import.meta.url);

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'refused'; message: string }
  | { type: 'result'; id: number; out: unknown }
  | { type: 'error'; id: number; message: string }
  | { type: 'pong'; id: number }
  | { type: 'log'; message: string };

export function functionKind(): ModuleKindRunner<'function'> {
  return { kind: 'function', start: (spec, ctx) => FunctionModule.start(spec.config, ctx) };
}

class FunctionModule implements RunningModule {
  readonly #worker: Worker;
  readonly #config: FunctionConfig;
  readonly #ctx: ModuleContext;
  readonly #lines: LineLimiter;
  readonly #metrics: ReadonlySet<string> | null;
  readonly #queue: Sample[] = [];
  readonly #pings = new Map<number, () => void>();
  #inFlight: { id: number; timer: Timer } | null = null;
  #nextId = 1;
  #stopping = false;
  dropped = 0;

  private constructor(worker: Worker, config: FunctionConfig, ctx: ModuleContext) {
    this.#worker = worker;
    this.#config = config;
    this.#ctx = ctx;
    this.#lines = new LineLimiter(ctx.clock, ctx.logger);
    this.#metrics = config.metrics ? new Set(config.metrics) : null;
  }

  static async start(config: FunctionConfig, ctx: ModuleContext): Promise<RunningModule> {
    const memoryMb = config.memoryMb ?? DEFAULT_MEMORY_MB;
    const worker = new Worker(WORKER_URL, {
      workerData: { source: config.source },
      resourceLimits: { maxOldGenerationSizeMb: memoryMb },
    });
    const module = new FunctionModule(worker, config, ctx);
    await module.#ready(memoryMb);
    return module;
  }

  /** Resolves on the worker's `ready`; rejects (refused, or a crash) otherwise. */
  #ready(memoryMb: number): Promise<void> {
    const worker = this.#worker;
    return new Promise((resolve, reject) => {
      const timer = this.#ctx.clock.setTimeout(() => {
        void worker.terminate();
        reject(new Error(`the worker was not ready within ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      const early = (err: Error) => {
        timer.cancel();
        void worker.terminate();
        reject(this.#explain(err, memoryMb));
      };
      const earlyExit = (code: number) => early(new Error(`the worker exited with code ${code}`));
      worker.once('error', early);
      worker.once('exit', earlyExit);
      worker.once('message', (msg: WorkerMessage) => {
        timer.cancel();
        worker.off('error', early);
        worker.off('exit', earlyExit);
        if (msg.type !== 'ready') {
          void worker.terminate();
          reject(new ModuleRefused(msg.type === 'refused' ? msg.message : `unexpected ${msg.type} from the worker`));
          return;
        }
        this.#listen(memoryMb);
        resolve();
      });
    });
  }

  #listen(memoryMb: number): void {
    const worker = this.#worker;
    worker.on('message', (msg: WorkerMessage) => this.#onMessage(msg));
    worker.on('error', (err) => this.#crash(this.#explain(err, memoryMb)));
    worker.on('exit', (code) => this.#crash(new Error(`the worker exited with code ${code}`)));
  }

  #explain(err: Error, memoryMb: number): Error {
    return (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? new Error(`the handler ran out of memory (memoryMb ${memoryMb})`)
      : err;
  }

  onSample(sample: Sample): void {
    // Its own output would call it again, for ever.
    if (sample.source === this.#ctx.name) return;
    const visible = this.#filter(sample);
    if (visible === null || this.#stopping) return;
    this.#queue.push(visible);
    if (this.#queue.length > QUEUE_LIMIT) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#pump();
  }

  health(): Promise<HealthResult> {
    // The worker answers between two calls: a live event loop, not a stuck handler.
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pings.set(id, () => resolve({ healthy: true }));
      this.#worker.postMessage({ type: 'ping', id });
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#inFlight?.timer.cancel();
    await this.#worker.terminate();
  }

  #filter(sample: Sample): Sample | null {
    if (this.#metrics === null) return sample;
    const metrics = Object.fromEntries(Object.entries(sample.metrics).filter(([k]) => this.#metrics!.has(k)));
    return Object.keys(metrics).length > 0 ? { ...sample, metrics } : null;
  }

  #pump(): void {
    if (this.#inFlight !== null || this.#stopping) return;
    const sample = this.#queue.shift();
    if (sample === undefined) return;
    const id = this.#nextId++;
    const timeoutMs = this.#config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timer = this.#ctx.clock.setTimeout(() => {
      this.#crash(new Error(`the handler ran over its time limit (timeoutMs ${timeoutMs})`));
    }, timeoutMs);
    this.#inFlight = { id, timer };
    this.#worker.postMessage({ type: 'call', id, sample });
  }

  #onMessage(msg: WorkerMessage): void {
    switch (msg.type) {
      case 'pong':
        this.#pings.get(msg.id)?.();
        this.#pings.delete(msg.id);
        return;
      case 'log':
        this.#lines.line('log', msg.message);
        return;
      case 'result':
      case 'error':
        if (this.#inFlight?.id !== msg.id) return;
        this.#inFlight.timer.cancel();
        this.#inFlight = null;
        if (msg.type === 'error') {
          this.#crash(new Error(`the handler threw: ${msg.message}`));
          return;
        }
        this.#route(msg.out);
        this.#pump();
        return;
      default:
        return;
    }
  }

  /** The handler's output, checked, through the context (permissions apply there). */
  #route(out: unknown): void {
    if (out === null || typeof out !== 'object') return;
    const { metrics, events, actuate } = out as { metrics?: unknown; events?: unknown; actuate?: unknown };
    const ctx = this.#ctx;
    const attempt = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        ctx.logger.warn({ err: (err as Error).message }, `function: ${what} not done`);
      }
    };
    if (isRecord(metrics)) attempt('emit', () => ctx.emit(metrics as Record<string, number>));
    if (Array.isArray(events)) {
      for (const e of events) {
        if (isRecord(e) && EVENT_TYPES.has(e.type as string))
          attempt('raise', () => ctx.raise(e as unknown as RaiseEventInput));
        else ctx.logger.warn({ event: e }, 'function: an event without a valid type was ignored');
      }
    }
    if (isRecord(actuate)) {
      for (const [actuator, value] of Object.entries(actuate)) {
        if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string')
          attempt('actuate', () => ctx.actuate(actuator, value));
      }
    }
  }

  #crash(error: Error): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#inFlight?.timer.cancel();
    void this.#worker.terminate();
    this.#ctx.crashed(error);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
