// The device agent: wires the hub link, the durable outbox and its drainer, twin sync, commands,
// heartbeats and sampling around one DeviceHardware. This is the API the simulator and the CLI use.

import { join } from 'node:path';
import { onnxExecutionProviders } from '@homeostat/inference';
import {
  type BackoffOptions,
  type Clock,
  type Logger,
  silentLogger,
  systemClock,
  type Timer,
  TypedEvents,
} from '@homeostat/kit';
import {
  type CommandResultMessage,
  ErrorNotice,
  type HeartbeatMessage,
  parseJson,
  parser,
  type StatusMessage,
  topics,
} from '@homeostat/protocol';
import type { MqttClient } from 'mqtt';
import { type CommandHandler, CommandRouter } from './commands.js';
import type { DeviceHardware, Metrics } from './device/hardware.js';
import { Aggregator } from './edge/aggregate.js';
import { withTelemetrySettings } from './edge/settings.js';
import { AgentError } from './errors.js';
import { claimDevice } from './link/claim.js';
import { type DeviceCredentials, loadCredentials, saveCredentials } from './link/credentials.js';
import { HubLink } from './link/hub-link.js';
import { Drainer } from './outbox/drainer.js';
import { type DropAlarm, DropMonitor } from './outbox/drop-monitor.js';
import { MemoryOutbox } from './outbox/memory-outbox.js';
import { type Outbox, type OutboxLimits, PRIORITY } from './outbox/outbox.js';
import { SqliteOutbox } from './outbox/sqlite-outbox.js';
import { TwinSync } from './twin/twin-sync.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  /** mqtt://host:port */
  hubUrl: string;
  /** Device id; required unless `claim` is given or credentials are stored in dataDir. */
  id?: string;
  /** Device token. */
  token?: string;
  /** Claim token for zero-touch provisioning. */
  claim?: string;
  /** Name to request when claiming; defaults to `id`. */
  name?: string;
  /** Serial number sent with a claim request. */
  serial?: string;
  /** Where outbox.db and credentials.json live; null keeps both in memory (simulator benchmarks). */
  dataDir?: string | null;
  /** Heartbeat period, ms. Default 1000. */
  heartbeatMs?: number;
  /** Sampling period, ms. Default 1000. */
  sampleMs?: number;
  hardware: DeviceHardware;
  clock?: Clock;
  logger?: Logger;
  /** Reconnect backoff; default 500 ms initial, 30 s max, full jitter. */
  backoff?: Partial<BackoffOptions>;
  /** Messages awaiting the hub's ack at once while draining. Default 100. */
  outboxWindow?: number;
  /** Most bytes (topic + payload) the outbox holds; then old telemetry goes first. Default 64 MiB. */
  outboxMaxBytes?: number;
  /** Queued messages older than this are dropped (checked every minute). Default 7 days. */
  outboxMaxAgeMs?: number;
  /**
   * The ONNX execution providers this agent can run models on, reported in its capabilities (the
   * hub places a model here only when they meet its requirements). Default: what onnxruntime-node
   * offers on this machine, or none when it cannot be loaded.
   */
  executionProviders?: () => readonly string[];
}

export type AgentEvents = {
  connected: undefined;
  disconnected: { reason: string };
  'desired-applied': { version: number };
  'error-notice': ErrorNotice;
  credentials: { deviceId: string };
};

export interface RaiseEventInput {
  type: 'alarm' | 'action' | 'log';
  code?: string;
  severity?: 'info' | 'warning' | 'critical';
  message?: string;
  data?: Record<string, unknown>;
}

/** MQTT keepalive, seconds: the broker declares us dead after 1.5 times this of silence. */
const KEEPALIVE_S = 30;
const parseNotice = parser(ErrorNotice);

/** What onnxruntime offers here; none when its native binding does not load on this machine. */
function runtimeProviders(): string[] {
  try {
    return onnxExecutionProviders();
  } catch {
    return [];
  }
}

/** What exists only between start() and stop(). */
interface Running {
  deviceId: string;
  outbox: Outbox;
  drainer: Drainer;
  link: HubLink;
  twin: TwinSync;
  drops: DropMonitor;
  commands: CommandRouter;
  sampler: Timer;
  heartbeat: Timer | null;
}

export class Agent {
  readonly events = new TypedEvents<AgentEvents>();
  readonly #options: AgentOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #handlers = new Map<string, CommandHandler>();
  #state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  #run: Running | null = null;
  /** The aggregate stage; raw until the desired state's `telemetry` says otherwise. */
  #aggregator = new Aggregator({ mode: 'raw' });
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
      const limits = this.#outboxLimits();
      outbox = dataDir === null ? new MemoryOutbox(limits) : SqliteOutbox.open(join(dataDir, 'outbox.db'), limits);
      const credentials = await this.#credentials(dataDir, abort.signal);
      abort.signal.throwIfAborted();
      this.#run = this.#wire(credentials, outbox);
    } catch (err) {
      outbox?.close();
      this.#state = abort.signal.aborted ? 'stopped' : 'idle';
      throw err;
    } finally {
      this.#startAbort = null;
    }
    this.#state = 'running';
    this.#run.twin.restore();
    this.#run.drops.prune();
    this.#run.link.start();
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
    run.heartbeat?.cancel();
    run.drops.close();
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
    const { raw, summaries, alarms } = this.#aggregator.add(this.#clock.now(), finite);
    try {
      // Summaries go ahead of raw readings: they stand for many readings each.
      for (const s of summaries) {
        this.#enqueueSequenced(topics.telemetry, PRIORITY.summaries, (seq) => ({ seq, ts: s.ts, metrics: s.metrics }));
      }
      if (raw) this.#enqueueSequenced(topics.telemetry, PRIORITY.telemetry, (seq, ts) => ({ seq, ts, metrics: raw }));
      for (const alarm of alarms) this.raiseEvent(alarm);
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

  #outboxLimits(): OutboxLimits {
    const { outboxMaxBytes, outboxMaxAgeMs } = this.#options;
    return {
      ...(outboxMaxBytes !== undefined ? { maxBytes: outboxMaxBytes } : {}),
      ...(outboxMaxAgeMs !== undefined ? { maxAgeMs: outboxMaxAgeMs } : {}),
    };
  }

  /** The first drop after a quiet period: an alarm, sent ahead of the telemetry left. */
  #alarmDrops({ reason, dropped }: DropAlarm): void {
    try {
      this.raiseEvent({
        type: 'alarm',
        code: 'OUTBOX_DROPPED',
        severity: 'warning',
        message:
          reason === 'full'
            ? 'the outbox is full: the oldest, least important messages are being dropped'
            : 'queued messages expired before they could be sent, and were dropped',
        data: { reason, dropped },
      });
    } catch (err) {
      this.#logger.error({ err: (err as Error).message }, 'agent: could not queue the OUTBOX_DROPPED alarm');
    }
  }

  /** Explicit id and token first, then stored credentials, then a claim. */
  async #credentials(dataDir: string | null, signal: AbortSignal): Promise<DeviceCredentials> {
    const { id, token, claim, hubUrl } = this.#options;
    if (id !== undefined && token !== undefined) return { deviceId: id, token };
    const stored = dataDir === null ? undefined : loadCredentials(dataDir);
    if (stored !== undefined) return stored;
    if (claim === undefined) throw new AgentError('ERR_CREDENTIALS_MISSING');
    const name = this.#options.name ?? id;
    const granted = await claimDevice({
      url: hubUrl,
      claimToken: claim,
      ...(name !== undefined ? { name } : {}),
      ...(this.#options.serial !== undefined ? { serial: this.#options.serial } : {}),
      clock: this.#clock,
      logger: this.#logger,
      backoff: this.#backoff(),
      signal,
    });
    if (dataDir !== null) saveCredentials(dataDir, granted);
    else
      this.#logger.warn(
        { deviceId: granted.deviceId },
        'agent: claimed without a dataDir; credentials kept in memory only',
      );
    this.events.emit('credentials', { deviceId: granted.deviceId });
    return granted;
  }

  #backoff(): BackoffOptions {
    return { initialMs: 500, maxMs: 30_000, ...this.#options.backoff };
  }

  #wire(credentials: DeviceCredentials, outbox: Outbox): Running {
    const { deviceId } = credentials;
    const heartbeatMs = this.#options.heartbeatMs ?? 1000;
    const will: StatusMessage = { online: false, reason: 'connection lost' };
    const link = new HubLink({
      url: this.#options.hubUrl,
      credentials: { clientId: deviceId, username: deviceId, password: credentials.token },
      clean: false,
      will: { topic: topics.status(deviceId), payload: JSON.stringify(will), qos: 1, retain: true },
      keepalive: KEEPALIVE_S,
      backoff: this.#backoff(),
      clock: this.#clock,
      logger: this.#logger,
    });
    const drainer = new Drainer({
      outbox,
      logger: this.#logger,
      ...(this.#options.outboxWindow !== undefined ? { window: this.#options.outboxWindow } : {}),
    });
    const twin = new TwinSync({
      outbox,
      hardware: withTelemetrySettings(
        this.#options.hardware,
        (settings) => {
          this.#aggregator = new Aggregator(settings);
        },
        (problems) => this.#logger.warn({ problems }, 'agent: invalid telemetry settings ignored'),
      ),
      report: (message) => link.publish(topics.twinReported(deviceId), JSON.stringify(message), { qos: 1 }),
      onApplied: (version) => this.events.emit('desired-applied', { version }),
      clock: this.#clock,
      logger: this.#logger,
    });
    const drops = new DropMonitor({
      outbox,
      twin,
      clock: this.#clock,
      logger: this.#logger,
      connected: () => link.connected,
      alarm: (alarm) => this.#alarmDrops(alarm),
    });
    const commands = new CommandRouter({
      handlers: this.#handlers,
      respond: (result) => this.#respond(result),
      clock: this.#clock,
      logger: this.#logger,
    });
    const sampler = this.#clock.setInterval(() => this.sampleNow(), this.#options.sampleMs ?? 1000);
    const run: Running = { deviceId, outbox, drainer, link, twin, drops, commands, sampler, heartbeat: null };

    link.events.on('up', (client) => this.#onUp(run, client, heartbeatMs));
    link.events.on('down', ({ reason }) => {
      run.heartbeat?.cancel();
      run.heartbeat = null;
      drainer.detach();
      this.events.emit('disconnected', { reason });
    });
    link.events.on('message', ({ topic, payload }) => this.#onMessage(run, topic, payload));
    return run;
  }

  /** Subscribe, announce, report the twin, then drain: MQTT keeps this order on the wire. */
  #onUp(run: Running, client: MqttClient, heartbeatMs: number): void {
    const { deviceId, link } = run;
    client.subscribe(
      {
        [topics.twinDesired(deviceId)]: { qos: 1 },
        [topics.commands(deviceId)]: { qos: 1 },
        [topics.errors(deviceId)]: { qos: 0 },
      },
      (err, granted) => {
        const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? [];
        if (err || refused.length > 0)
          this.#logger.error({ err: err?.message, refused }, 'agent: subscription refused');
      },
    );
    const status: StatusMessage = {
      online: true,
      ts: this.#clock.now(),
      heartbeatMs,
      agent: { version: AGENT_VERSION },
      capabilities: {
        kind: this.#options.hardware.kind,
        ...this.#options.hardware.capabilities(),
        executionProviders: [...(this.#options.executionProviders ?? runtimeProviders)()],
      },
    };
    link.publish(topics.status(deviceId), JSON.stringify(status), { qos: 1, retain: true });
    run.drops.refresh();
    run.twin.reportFull();
    run.heartbeat?.cancel();
    run.heartbeat = this.#clock.setInterval(() => {
      const beat: HeartbeatMessage = { ts: this.#clock.now(), uptimeMs: this.#clock.now() - this.#startedAt };
      link.publish(topics.heartbeat(deviceId), JSON.stringify(beat), { qos: 0 });
    }, heartbeatMs);
    run.drainer.attach((topic, payload, qos, done) => link.publish(topic, payload, { qos }, done));
    this.events.emit('connected', undefined);
  }

  #onMessage(run: Running, topic: string, payload: Buffer): void {
    const { deviceId } = run;
    if (topic === topics.twinDesired(deviceId)) {
      run.twin.onDesired(payload);
    } else if (topic === topics.errors(deviceId)) {
      this.#onErrorNotice(payload);
    } else if (topic.startsWith(topics.command(deviceId, ''))) {
      const name = topic.slice(topics.command(deviceId, '').length);
      void run.commands.handle(name, payload).catch((err: Error) => {
        this.#logger.error({ err: err.message, command: name }, 'agent: command dispatch failed');
      });
    } else {
      this.#logger.debug({ topic }, 'agent: message on an unexpected topic ignored');
    }
  }

  #onErrorNotice(payload: Buffer): void {
    const json = parseJson(payload.toString('utf8'));
    const parsed = json.ok ? parseNotice.parse(json.value) : json;
    if (!parsed.ok) {
      this.#logger.warn({ problems: parsed.errors }, 'agent: invalid error notice from the hub');
      return;
    }
    const notice = parsed.value;
    this.#logger.warn(
      { code: notice.code, topic: notice.topic, seq: notice.seq },
      `hub refused a message: ${notice.message}`,
    );
    const current = notice.data?.currentVersion;
    if (notice.code === 'ERR_TWIN_STALE_REPORTED' && typeof current === 'number' && this.#run) {
      this.#run.twin.adoptVersion(current);
    }
    this.events.emit('error-notice', notice);
  }

  /** Command results go through the outbox, ahead of telemetry: a disconnect does not lose them. */
  #respond(result: CommandResultMessage): void {
    const run = this.#run;
    if (run === null || this.#state !== 'running') return;
    try {
      run.outbox.enqueue({
        topic: topics.commandResults(run.deviceId),
        payload: JSON.stringify(result),
        qos: 1,
        priority: PRIORITY.urgent,
        createdAt: this.#clock.now(),
      });
    } catch (err) {
      this.#logger.error({ err: (err as Error).message, id: result.id }, 'agent: command result dropped');
    } finally {
      run.drops.check();
    }
    run.drainer.pump();
  }
}
