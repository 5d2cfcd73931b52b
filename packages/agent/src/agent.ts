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
  type Capabilities,
  type CommandResultMessage,
  ErrorNotice,
  type HeartbeatMessage,
  type PublicKey,
  parseJson,
  parser,
  type ReportedFirmware,
  type ReportedModule,
  type StatusMessage,
  topics,
} from '@homeostat/protocol';
import type { MqttClient } from 'mqtt';
import { DeviceLoop } from './autonomic/loop.js';
import { type CommandHandler, CommandRouter } from './commands.js';
import type { DeviceHardware, Metrics } from './device/hardware.js';
import { Aggregator } from './edge/aggregate.js';
import { withAgentKeys } from './edge/settings.js';
import { AgentError } from './errors.js';
import { claimDevice } from './link/claim.js';
import { type DeviceCredentials, loadCredentials, saveCredentials } from './link/credentials.js';
import { HubLink } from './link/hub-link.js';
import { TelemetryStage } from './modules/aggregate.js';
import { builtInKinds } from './modules/kinds.js';
import type { Sample } from './modules/module.js';
import { StreamStore } from './modules/streams.js';
import { type AnyModuleKind, ModuleSupervisor, type SupervisorEvents } from './modules/supervisor.js';
import type { AgentUpdates, UpdateProbeOptions } from './ota/agent-updates.js';
import { agentUpdates, withUpdateKeys } from './ota/agent-updates-wiring.js';
import { fetchBlob } from './ota/http-source.js';
import type { BootSlots } from './ota/slots.js';
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
  /**
   * The hub's HTTP API, e.g. http://hub:8080: where the device downloads what it is asked to run
   * (model files, updates) with its own credentials. Without it, only models already in the
   * device's model cache can run.
   */
  apiUrl?: string;
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
  /** Module kinds beyond the built-in ones (aggregate, function, process); one of the same kind replaces it. */
  moduleKinds?: readonly AnyModuleKind[];
  /** Commands `process` modules may run (exactly as their specs name them). Default none: every process module is refused. */
  allowCommands?: readonly string[];
  /**
   * The ONNX execution providers this agent can run models on, reported in its capabilities (the
   * hub places a model here only when they meet its requirements). Default: what onnxruntime-node
   * offers on this machine, or none when it cannot be loaded.
   */
  executionProviders?: () => readonly string[];
  /** The root public key the device is provisioned with; without it every update is refused. */
  rootKey?: PublicKey;
  /** The A/B slots updates install into. Default: files under `<dataDir>/slots`, memory when dataDir is null. */
  slots?: BootSlots;
  /** The device model update manifests must target (its `model` label). Default: the hardware's kind. */
  model?: string;
  /** What the device runs while no slot holds an installed update (its factory image). */
  firmware?: ReportedFirmware;
  /** The probe of a new version after the switch (window, period, time up before it is judged). */
  updateProbe?: UpdateProbeOptions;
}

export type AgentEvents = {
  connected: undefined;
  disconnected: { reason: string };
  'desired-applied': { version: number };
  'error-notice': ErrorNotice;
  credentials: { deviceId: string };
  /** A module changed state (the supervisor's own event, passed on). */
  'module-state': SupervisorEvents['state'];
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
  modules: ModuleSupervisor;
  loop: DeviceLoop;
  updates: AgentUpdates;
}

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
  /** The desired `modules` as last received (the device loop's watchdog may hold some back). */
  #desiredModules: Record<string, unknown> = {};

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
    run.heartbeat?.cancel();
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

  /** What the device is and can run: the hardware's, and the ONNX execution providers here. */
  #capabilities(): Capabilities {
    return {
      kind: this.#options.hardware.kind,
      ...this.#options.hardware.capabilities(),
      executionProviders: [...(this.#options.executionProviders ?? runtimeProviders)()],
    };
  }

  #backoff(): BackoffOptions {
    return { initialMs: 500, maxMs: 30_000, ...this.#options.backoff };
  }

  /** The module supervisor with the built-in kinds and those given in the options. */
  #modules(
    credentials: DeviceCredentials,
    report: (reported: Record<string, ReportedModule>) => void,
  ): ModuleSupervisor {
    const { hardware, allowCommands = [], moduleKinds = [], apiUrl, dataDir = null } = this.#options;
    const model = {
      capabilities: () => this.#capabilities(),
      dataDir,
      ...(apiUrl !== undefined
        ? {
            fetchArtifact: (a: { sha256: string }) =>
              fetchBlob({ apiUrl, deviceId: credentials.deviceId, token: credentials.token }, a.sha256),
          }
        : {}),
    };
    return new ModuleSupervisor({
      kinds: [...builtInKinds({ stage: this.#stage, allowCommands, model }), ...moduleKinds],
      streams: new StreamStore(),
      clock: this.#clock,
      logger: this.#logger,
      dataDir: this.#options.dataDir ?? null,
      actuate: (actuator, value, now) => {
        if (!hardware.actuate) throw new Error(`this device has no actuators (asked for ${actuator})`);
        hardware.actuate(actuator, value, now);
      },
      raise: (event) => {
        this.raiseEvent(event);
        this.#run?.loop.onEvent(event);
      },
      upstream: (sample) => this.#upstream(sample),
      report: (reported) => {
        if (this.#state === 'running') report(reported);
      },
    });
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
    // The supervisor reports through the twin, debounced: `twin` exists by the time it does.
    const modules = this.#modules(credentials, (reported) => twin.setAgentReported('modules', reported));
    const loop = this.#deviceLoop(modules, () => twin);
    const updates = agentUpdates(this.#options, {
      credentials,
      agent: () => ({ connected: link.connected, modules: modules.reported() }),
      report: (key, value) => twin.setAgentReported(key, value),
      raise: (event) => this.raiseEvent(event),
      clock: this.#clock,
      logger: this.#logger,
    });
    const twin: TwinSync = new TwinSync({
      outbox,
      hardware: withAgentKeys(
        withUpdateKeys(this.#options.hardware, (u, t) => updates.desired(u, t)),
        {
          telemetry: (settings) => this.#stage.setDefault(settings),
          refuseTelemetry: (problems) => this.#logger.warn({ problems }, 'agent: invalid telemetry settings ignored'),
          modules: (desired) => {
            this.#desiredModules = desired;
            this.#applyModules(modules, loop);
          },
          loop: (hardwareDesired, loopKeys) => {
            const problems = loop.setDesired(hardwareDesired, loopKeys);
            if (problems.length > 0) this.#logger.warn({ problems }, 'agent: invalid device-loop policies ignored');
          },
          refuseModules: (problem) => this.#logger.warn({ problem }, 'agent: desired modules ignored'),
        },
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
    modules.events.on('state', (change) => this.events.emit('module-state', change));
    const run: Running = {
      deviceId,
      outbox,
      drainer,
      link,
      twin,
      drops,
      commands,
      sampler,
      heartbeat: null,
      modules,
      loop,
      updates,
    };

    loop.start();
    link.events.on('up', (client) => {
      this.#onUp(run, client, heartbeatMs);
      loop.onLink(true);
    });
    link.events.on('down', ({ reason }) => {
      loop.onLink(false);
      run.heartbeat?.cancel();
      run.heartbeat = null;
      drainer.detach();
      this.events.emit('disconnected', { reason });
    });
    link.events.on('message', ({ topic, payload }) => this.#onMessage(run, topic, payload));
    return run;
  }

  /** The desired modules, minus those the device loop's watchdog stopped at their current rev. */
  #applyModules(modules: ModuleSupervisor, loop: DeviceLoop): void {
    const desired = Object.fromEntries(
      Object.entries(this.#desiredModules).filter(
        ([name, m]) => !loop.isStopped(name, (m as { rev?: unknown } | null)?.rev),
      ),
    );
    modules.apply(desired).catch((err: Error) => {
      this.#logger.error({ err: err.message }, 'agent: applying the desired modules failed');
    });
  }

  /** The device's own MAPE-K loop, executing through this agent's parts (autonomic/loop.ts). */
  #deviceLoop(modules: ModuleSupervisor, twin: () => TwinSync): DeviceLoop {
    const { hardware } = this.#options;
    let pending: Record<string, unknown> | null = null;
    const loop: DeviceLoop = new DeviceLoop({
      clock: this.#clock,
      logger: this.#logger,
      heartbeatMs: this.#options.heartbeatMs ?? 1000,
      sampleMs: this.#options.sampleMs ?? 1000,
      applyDesired: (state) => hardware.applyDesired(state, this.#clock.now()),
      actuate: (actuator, value) => {
        if (!hardware.actuate) throw new Error(`this device has no actuators (asked for ${actuator})`);
        hardware.actuate(actuator, value, this.#clock.now());
      },
      setSampleInterval: (ms) => {
        const run = this.#run;
        if (run === null) return;
        run.sampler.cancel();
        run.sampler = this.#clock.setInterval(() => this.sampleNow(), ms);
      },
      stopModule: () => this.#applyModules(modules, loop),
      raise: (event) => this.raiseEvent(event),
      // Reported after the current step (a desired state being applied, a sample) has finished.
      report: (state) => {
        const first = pending === null;
        pending = state;
        if (!first) return;
        this.#clock.setTimeout(() => {
          if (this.#state === 'running' && pending !== null) twin().setAgentReported('autonomic', pending);
          pending = null;
        }, 0);
      },
    });
    return loop;
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
      capabilities: this.#capabilities(),
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
