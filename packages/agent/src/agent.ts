// The device agent: wires the hub link, the durable outbox and its drainer, twin sync, commands,
// heartbeats and sampling around one DeviceHardware. This is the API the simulator and the CLI use.
// The agent owns its lifecycle and what it queues for the hub; running.ts wires the parts of a run.

import { join } from 'node:path';
import { type Clock, type Logger, silentLogger, systemClock, TypedEvents } from '@homeostat/kit';
import { type ReportedModule, type StatusMessage, topics } from '@homeostat/protocol';
import {
  type AgentEvents,
  type AgentOptions,
  backoffOf,
  outboxLimitsOf,
  type RaiseEventInput,
} from './agent-options.js';
import type { CommandHandler } from './commands.js';
import type { Metrics } from './device/hardware.js';
import { Aggregator } from './edge/aggregate.js';
import type { AgentError } from './errors.js';
import { resolveCredentials } from './link/resolve-credentials.js';
import { TelemetryStage } from './modules/aggregate.js';
import type { Sample } from './modules/module.js';
import { MemoryOutbox } from './outbox/memory-outbox.js';
import { type Outbox, PRIORITY } from './outbox/outbox.js';
import { SqliteOutbox } from './outbox/sqlite-outbox.js';
import { type Running, wire } from './running.js';

export { AGENT_VERSION, type AgentEvents, type AgentOptions, type RaiseEventInput } from './agent-options.js';

export class Agent {
  readonly events = new TypedEvents<AgentEvents>();
  readonly #options: AgentOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #handlers = new Map<string, CommandHandler>();
  #state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  #run: Running | null = null;
  /** The aggregate stage; raw until the desired state's `telemetry` (or an aggregate module) says otherwise. */
  #aggregator = new Aggregator({ mode: 'raw' });
  readonly #stage = new TelemetryStage((settings) => {
    this.#aggregator = new Aggregator(settings);
  });
  #startAbort: AbortController | null = null;
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #startedAt = 0;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger();
  }

  get id(): string | undefined {
    return this.#run?.deviceId ?? this.#options.id;
  }

  get connected(): boolean {
    return this.#run?.link.connected ?? false;
  }

  get outboxSize(): number {
    return this.#run?.outbox.size() ?? 0;
  }

  /** The modules and their state, as reported in the twin; empty when not running. */
  get modules(): Record<string, ReportedModule> {
    return this.#run?.modules.reported() ?? {};
  }

  /** Resolves once credentials are known and the first connection attempt is under way. */
  start(): Promise<void> {
    if (this.#state !== 'idle') return Promise.reject(new Error(`agent: start() called while ${this.#state}`));
    this.#state = 'starting';
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#startedAt = this.#clock.now();
    const { dataDir = null } = this.#options;
    let outbox: Outbox | undefined;
    const abort = new AbortController();
    this.#startAbort = abort;
    try {
      const limits = outboxLimitsOf(this.#options);
      outbox = dataDir === null ? new MemoryOutbox(limits) : SqliteOutbox.open(join(dataDir, 'outbox.db'), limits);
      const credentials = await resolveCredentials(this.#options, {
        dataDir,
        clock: this.#clock,
        logger: this.#logger,
        backoff: backoffOf(this.#options),
        signal: abort.signal,
        claimed: ({ deviceId }) => this.events.emit('credentials', { deviceId }),
      });
      abort.signal.throwIfAborted();
      this.#run = wire({
        options: this.#options,
        credentials,
        outbox,
        clock: this.#clock,
        logger: this.#logger,
        events: this.events,
        handlers: this.#handlers,
        stage: this.#stage,
        startedAt: this.#startedAt,
        live: () => this.#state === 'running',
        sample: () => this.sampleNow(),
        upstream: (sample) => this.#upstream(sample),
        raise: (event) => this.raiseEvent(event),
      });
    } catch (err) {
      outbox?.close();
      this.#state = abort.signal.aborted ? 'stopped' : 'idle';
      throw err;
    } finally {
      this.#startAbort = null;
    }
    this.#state = 'running';
    // The slots count this boot before anything runs (a second start on trial rolls back).
    this.#run.updates.boot();
    this.#run.twin.restore();
    this.#run.drops.prune();
    this.#run.link.start();
    this.#run.updates.start();
    this.#logger.info({ deviceId: this.#run.deviceId, pending: outbox.size() }, 'agent: started');
  }

  /** Idempotent; when called during start() (e.g. a pending claim), ends it and start() rejects. */
  stop(): Promise<void> {
    if (this.#state === 'starting') {
      this.#startAbort?.abort(new Error('agent: stopped while starting'));
      const starting = this.#starting ?? Promise.resolve();
      return starting.then(
        () => this.stop(),
        () => undefined,
      );
    }
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const run = this.#run;
    if (this.#state !== 'running' || run === null) return;
    this.#state = 'stopping';
    run.sampler.cancel();
    run.loop.stop();
    run.connection.stop();
    run.drops.close();
    await run.updates.stop();
    await run.modules.stop();
    // Stop feeding the connection, or a big backlog would hold the graceful disconnect open;
    // acks of what is already in flight still remove those entries.
    run.drainer.detach();
    const offline: StatusMessage = { online: false, ts: this.#clock.now(), reason: 'stopped' };
    await run.link.stop({ topic: topics.status(run.deviceId), payload: JSON.stringify(offline), qos: 1, retain: true });
    run.drainer.close();
    run.outbox.close();
    this.#run = null;
    this.#state = 'stopped';
    this.#logger.info({ deviceId: run.deviceId }, 'agent: stopped');
  }

  /**
   * Queues an event for the hub ahead of telemetry; returns its seq. Throws an AgentError
   * ERR_OUTBOX_FULL when the outbox has no room even after dropping telemetry for it.
   */
  raiseEvent(event: RaiseEventInput): number {
    const { type, code, severity, message, data } = event;
    return this.#enqueueSequenced(topics.events, PRIORITY.urgent, (seq, ts) => ({
      seq,
      ts,
      type,
      code,
      severity,
      message,
      data,
    }));
  }

  /** Registers the handler of `commands/{name}`; the latest registration wins. */
  onCommand(name: string, handler: CommandHandler): void {
    this.#handlers.set(name, handler);
  }

  /** Takes one sample now and queues it (the sampling timer calls this every sampleMs). */
  sampleNow(): void {
    this.#requireRunning();
    let metrics: Metrics;
    try {
      metrics = this.#options.hardware.sample(this.#clock.now());
    } catch (err) {
      this.#logger.error({ err: (err as Error).message }, 'agent: sampling failed');
      return;
    }
    // JSON has no NaN or Infinity, and the hub refuses a reading without metrics.
    const finite = Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
    if (Object.keys(finite).length === 0) return;
    const now = this.#clock.now();
    // Modules first: what a rule decides on this reading is queued ahead of the reading itself.
    const run = this.#requireRunning();
    run.modules.publish({ ts: now, metrics: finite });
    run.loop.onSample(finite);
    this.#upstream({ ts: now, metrics: finite });
  }

  /** A reading (the hardware's, or one a module derived) through the aggregate stage into the outbox. */
  #upstream({ ts, metrics }: Sample): void {
    if (this.#state !== 'running') return;
    const { raw, summaries, alarms } = this.#aggregator.add(ts, metrics);
    try {
      // Summaries go ahead of raw readings: they stand for many readings each.
      for (const s of summaries) {
        this.#enqueueSequenced(topics.telemetry, PRIORITY.summaries, (seq) => ({ seq, ts: s.ts, metrics: s.metrics }));
      }
      if (raw) this.#enqueueSequenced(topics.telemetry, PRIORITY.telemetry, (seq) => ({ seq, ts, metrics: raw }));
      for (const alarm of alarms) {
        this.raiseEvent(alarm);
        this.#run?.loop.onEvent(alarm);
      }
    } catch (err) {
      // Refused (counted, reported through the twin): sampling goes on.
      if ((err as AgentError).code !== 'ERR_OUTBOX_FULL') throw err;
    }
  }

  #requireRunning(): Running {
    if (this.#run === null || this.#state !== 'running') throw new Error('agent: not running');
    return this.#run;
  }

  /** Allocates a seq and queues the message in one transaction: a seq is never lost or reused. */
  #enqueueSequenced(
    topic: (id: string) => string,
    priority: number,
    build: (seq: number, ts: number) => object,
  ): number {
    const run = this.#requireRunning();
    const now = this.#clock.now();
    let seq: number;
    try {
      seq = run.outbox.transaction(() => {
        const seq = run.outbox.nextSeq();
        const payload = JSON.stringify(build(seq, now));
        run.outbox.enqueue({ topic: topic(run.deviceId), payload, qos: 1, priority, createdAt: now });
        return seq;
      });
    } finally {
      // A refusal is a drop too.
      run.drops.check();
    }
    run.drainer.pump();
    return seq;
  }
}
