// The composition root: the one place that builds the hub's parts and wires them together.

import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxRunner } from '@homeostat/inference';
import { type Clock, type Logger, newUid, silentLogger, systemClock } from '@homeostat/kit';
import { LIVENESS_STATES } from '@homeostat/protocol';
import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { ArtifactStore } from './artifacts/artifact-store.js';
import { HubModes } from './autonomic/hub-modes.js';
import { HUB_POLICIES } from './autonomic/hub-policies.js';
import { HubSampler } from './autonomic/hub-signals.js';
import { IncidentBook } from './autonomic/incidents.js';
import { AutonomicManager } from './autonomic/manager.js';
import { AutonomicService } from './autonomic/service.js';
import { Monitor } from './autonomic/signals.js';
import type { HubConfig } from './config.js';
import { DeploymentController } from './controllers/deployments.js';
import { LivenessTracker } from './controllers/liveness.js';
import { RetentionJob } from './controllers/retention.js';
import { DataDirLock } from './data-dir-lock.js';
import { EventLog } from './events.js';
import { buildHttpServer } from './http/server.js';
import { HubModels } from './inference/hub-models.js';
import { ArtifactModelStore, HubPlacement } from './inference/hub-placement.js';
import { Backpressure } from './ingest/backpressure.js';
import { IngestBatcher } from './ingest/batcher.js';
import { createMetrics, type HubMetrics } from './metrics.js';
import { LISTEN_BACKLOG, MqttEndpoint } from './mqtt/endpoint.js';
import { RolloutController } from './rollout/controller.js';
import { RolloutService } from './rollout/service.js';
import { DeploymentService } from './services/deployments.js';
import { DeviceService } from './services/devices.js';
import { EnrollmentService } from './services/enrollment.js';
import { TokenService } from './services/tokens.js';
import { openSqliteStore } from './store/sql-store.js';
import type { Reading, Store } from './store/store.js';

export const HUB_VERSION = '0.1.0';

export interface HubDeps {
  clock?: Clock;
  logger?: Logger;
  /** A store to use instead of the SQLite file under the data directory. */
  store?: Store;
  /**
   * Also expose the process's own metrics in `/metrics` (CPU, resident memory, heap, event loop
   * delay, garbage collection: prom-client's defaults). For the one hub a process runs: their
   * collectors live as long as the process, so hubs made and dropped by tests leave them out.
   */
  processMetrics?: boolean;
}

export interface StartedHub {
  httpUrl: string;
  mqttUrl: string;
  httpPort: number;
  mqttPort: number;
  /** The admin token created by this start, to print once; null when the hub had tokens already. */
  initialAdminToken: string | null;
}

export class Hub {
  readonly config: HubConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  #store: Store | undefined;
  #http: FastifyInstance | undefined;
  #endpoint: MqttEndpoint | undefined;
  #liveness: LivenessTracker | undefined;
  #ingest: IngestBatcher | undefined;
  #retention: RetentionJob | undefined;
  #events: EventLog | undefined;
  #devices: DeviceService | undefined;
  #deployments: DeploymentService | undefined;
  #deploymentController: DeploymentController | undefined;
  #enrollment: EnrollmentService | undefined;
  #tokens: TokenService | undefined;
  #monitor: Monitor | undefined;
  #autonomic: AutonomicManager | undefined;
  #autonomicService: AutonomicService | undefined;
  #rollouts: RolloutService | undefined;
  #rolloutController: RolloutController | undefined;
  #artifacts: ArtifactStore | undefined;
  #placement: HubPlacement | undefined;
  #sampler: HubSampler | undefined;
  #backpressure: Backpressure | undefined;
  /** This hub's hold on its data directory (none in memory). */
  #lock: DataDirLock | undefined;
  /** The artifacts directory of a hub without a data directory. */
  #scratch: string | undefined;
  readonly #injectedStore: Store | undefined;

  constructor(config: HubConfig, deps: HubDeps = {}) {
    this.config = config;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger();
    this.metrics = createMetrics({ processMetrics: deps.processMetrics ?? false });
    this.#injectedStore = deps.store;
  }

  /** Parts for in-process callers (the demo, tests); available once started. */
  get services() {
    if (
      !this.#devices ||
      !this.#deployments ||
      !this.#deploymentController ||
      !this.#enrollment ||
      !this.#tokens ||
      !this.#liveness ||
      !this.#store ||
      !this.#events ||
      !this.#artifacts
    ) {
      throw new Error('the hub is not started');
    }
    return {
      devices: this.#devices,
      deployments: this.#deployments,
      deploymentController: this.#deploymentController,
      enrollment: this.#enrollment,
      tokens: this.#tokens,
      liveness: this.#liveness,
      store: this.#store,
      events: this.#events,
      artifacts: this.#artifacts,
      ...this.#rolloutServices(),
    };
  }

  /** The fleet's autonomic manager (policies, decisions, autonomy), for in-process callers; once started. */
  get autonomic(): AutonomicService {
    if (!this.#autonomicService) throw new Error('the hub is not started');
    return this.#autonomicService;
  }

  #rolloutServices() {
    if (!this.#rollouts || !this.#rolloutController) throw new Error('the hub is not started');
    return { rollouts: this.#rollouts, rolloutController: this.#rolloutController };
  }

  async start(): Promise<StartedHub> {
    const { config, clock, logger, metrics } = this;
    if (!this.#injectedStore && config.dataDir !== null) {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      this.#lock = DataDirLock.acquire(config.dataDir);
    }
    const store = this.#injectedStore ?? (await openStore(config.dataDir, logger));
    this.#store = store;
    const events = new EventLog({ store, clock, logger, metrics });
    const liveness = new LivenessTracker({
      store,
      clock,
      logger,
      metrics,
      rule: {
        suspectAfterIntervals: config.suspectAfterIntervals,
        offlineAfterIntervals: config.offlineAfterIntervals,
      },
      defaultHeartbeatMs: config.heartbeatMs,
    });
    liveness.load(await store.listDevices());
    liveness.events.on('transition', (t) => {
      events.record({
        device: t.device,
        type: 'liveness',
        code: null,
        severity: t.to.state === 'offline' ? 'warning' : 'info',
        message: `${t.from} -> ${t.to.state}: ${t.to.evidence.detail}`,
        data: { from: t.from, to: t.to.state, evidence: t.to.evidence.kind },
      });
    });
    new Gauge({
      name: 'homeostat_devices',
      help: 'Devices by liveness state.',
      labelNames: ['liveness'],
      registers: [metrics.registry],
      async collect() {
        // Devices never heard of since the hub started are not in the tracker: they are unknown.
        const counts = liveness.counts();
        const tracked = LIVENESS_STATES.reduce((sum, s) => sum + counts[s], 0);
        counts.unknown += Math.max(0, (await store.countDevices()) - tracked);
        for (const s of LIVENESS_STATES) this.set({ liveness: s }, counts[s]);
      },
    });
    const enrollment = new EnrollmentService({ store, clock, events, metrics });
    // Models placed in the hub derive readings from what is stored; set once the artifacts are open.
    let placement: HubPlacement | undefined;
    // What listens to committed readings: the policies' metric triggers, and models placed in the hub.
    const stored: ((readings: readonly Reading[]) => void)[] = [];
    const ingest = new IngestBatcher({
      store,
      clock,
      metrics,
      logger,
      onStored: (readings) => {
        for (const listener of stored) listener(readings);
      },
    });
    stored.push((readings) => placement?.onStored(readings, (derived) => ingest.submit(derived)));
    const retention = new RetentionJob({ store, clock, logger, metrics, retention: config.retention });
    this.#retention = retention;
    this.#ingest = ingest;
    const backpressure = new Backpressure({ clock, batcher: ingest, metrics });
    this.#backpressure = backpressure;
    const endpoint = new MqttEndpoint({
      store,
      clock,
      logger,
      metrics,
      events,
      liveness,
      ingest,
      backpressure,
      config,
      enrollment,
    });
    const devices = new DeviceService({ store, clock, liveness, channel: endpoint, events });
    const deployments = new DeploymentService({ store, clock });
    const deploymentController = new DeploymentController({ store, clock, logger, metrics, writer: devices, events });
    // Level-based: an event only says which key to look at again.
    devices.events.on('changed', ({ name }) => deploymentController.deviceChanged(name));
    enrollment.events.on('enrolled', ({ name }) => deploymentController.deviceChanged(name));
    deployments.events.on('changed', ({ name }) => deploymentController.deploymentChanged(name));
    const tokens = new TokenService({ store, clock });
    const initialAdminToken = await tokens.bootstrap(config.adminToken);
    if (initialAdminToken === null && config.adminToken !== null) {
      const known = await tokens.authenticate(config.adminToken);
      if (!known) logger.warn('HOMEOSTAT_ADMIN_TOKEN is set but the hub has tokens already; it was not added');
    }
    // The fleet's autonomic loop: listens from before the endpoint opens, acts through the services.
    const monitor = new Monitor({ clock, liveness, events });
    const incidents = new IncidentBook({ store, clock, liveness });
    // The work the hub's own loop can pause: placement exists once the artifacts are open.
    const hubModes = new HubModes({
      metrics,
      retention,
      backpressure,
      work: {
        'hub-placement': { setPaused: (paused) => placement?.setPaused(paused) },
        'controller-resync': deploymentController,
      },
    });
    const autonomic = new AutonomicManager({
      hub: hubModes,
      store,
      clock,
      logger,
      liveness,
      monitor,
      events,
      devices,
      channel: endpoint,
      incidents,
      stableIntervals: config.handBackAfterIntervals,
    });
    // A claim that names a slot may replace the device that held it.
    enrollment.events.on('enrolled', ({ name, group }) => autonomic.enrolled(name, group));
    stored.push((readings) => autonomic.readingsStored(readings));
    this.#monitor = monitor;
    this.#autonomic = autonomic;
    if (config.hubPolicies) await installHubPolicies(store, clock);
    monitor.start();
    await autonomic.start();
    const autonomicService = new AutonomicService({
      store,
      clock,
      manager: autonomic,
      devices,
      channel: endpoint,
      events,
    });
    this.#autonomicService = autonomicService;
    const artifacts = await this.#openArtifacts();
    this.#artifacts = artifacts;
    placement = new HubPlacement({
      store,
      events,
      logger,
      models: new HubModels({ store: new ArtifactModelStore(artifacts), createRunner: () => new OnnxRunner() }),
    });
    this.#placement = placement;
    await placement.start();
    const rollouts = new RolloutService({ store, clock, artifacts, events, deviceEvents: true });
    const rolloutController = new RolloutController({ store, clock, logger, writer: devices, events });
    rollouts.events.on('changed', ({ name }) => rolloutController.rolloutChanged(name));
    // A rollout reads a device again only when it may stand elsewhere: created, relabelled, or
    // reporting where its update stands or what it runs.
    const deviceChanged = (name: string) => {
      rolloutController.deviceChanged(name);
      rollouts.deviceChanged(name);
    };
    devices.events.on('changed', ({ name }) => deviceChanged(name));
    enrollment.events.on('enrolled', ({ name }) => deviceChanged(name));
    events.signals.on('reported', ({ device, state }) => {
      if ('update' in state || 'firmware' in state) deviceChanged(device);
    });
    this.#rollouts = rollouts;
    this.#rolloutController = rolloutController;
    this.#sampler = new HubSampler({
      clock,
      logger,
      metrics,
      monitor,
      store,
      ingest,
      controllers: [
        { name: 'deployments', stats: () => deploymentController.stats() },
        { name: 'rollouts', stats: () => rolloutController.stats() },
      ],
      storeBudgetBytes: config.storeBudgetBytes,
      dataDir: this.#injectedStore ? null : config.dataDir,
      sampleMs: config.hubSampleMs,
    });
    const http = await buildHttpServer({
      logger,
      metrics,
      clock,
      store,
      artifacts,
      devices,
      deployments,
      enrollment,
      tokens,
      maxBodyBytes: config.maxBodyBytes,
      mqttReady: () => endpoint.port > 0,
      version: HUB_VERSION,
      autonomic: autonomicService,
      rollouts,
    });
    this.#events = events;
    this.#liveness = liveness;
    this.#endpoint = endpoint;
    this.#devices = devices;
    this.#deployments = deployments;
    this.#deploymentController = deploymentController;
    this.#enrollment = enrollment;
    this.#tokens = tokens;
    this.#http = http;
    try {
      await endpoint.start(config.listen, config.mqttPort);
      // Devices download artifacts by the thousand when a wave starts: the same backlog as MQTT.
      await http.listen({ host: config.listen, port: config.httpPort, backlog: LISTEN_BACKLOG });
    } catch (err) {
      await this.stop();
      throw err;
    }
    liveness.start();
    this.#retention.start();
    deploymentController.start();
    await rolloutController.start();
    this.#sampler.start();
    const httpPort = (http.server.address() as { port: number }).port;
    const host = config.listen.includes(':') ? `[${config.listen}]` : config.listen;
    logger.info({ httpPort, mqttPort: endpoint.port }, 'hub started');
    return {
      httpUrl: `http://${host}:${httpPort}`,
      mqttUrl: `mqtt://${host}:${endpoint.port}`,
      httpPort,
      mqttPort: endpoint.port,
      initialAdminToken,
    };
  }

  /** Artifacts live under the data directory; a hub kept in memory gets a scratch directory. */
  async #openArtifacts(): Promise<ArtifactStore> {
    const { dataDir, maxArtifactBytes } = this.config;
    if (dataDir !== null) return new ArtifactStore(join(dataDir, 'artifacts'), maxArtifactBytes);
    this.#scratch = await mkdtemp(join(tmpdir(), 'homeostat-hub-'));
    return new ArtifactStore(this.#scratch, maxArtifactBytes);
  }

  /** Readings submitted to the ingest writer and not yet committed (tests, the demo). */
  get ingestBacklog(): number {
    return this.#ingest?.backlog ?? 0;
  }

  /** Samples the hub for its own loop now, rather than on the next tick (tests, the demo). */
  async sampleSelf(): Promise<void> {
    await this.#sampler?.sample();
  }

  async stop(): Promise<void> {
    await this.#http?.close();
    await this.#sampler?.stop();
    // The controller and the loop act through the endpoint: they stop first.
    await this.#deploymentController?.stop();
    this.#monitor?.stop();
    await this.#autonomic?.stop();
    await this.#rolloutController?.stop();
    // Held telemetry goes on to the writer (and is acknowledged) rather than wait out its hold.
    this.#backpressure?.off();
    await this.#endpoint?.stop();
    await this.#retention?.stop();
    await this.#placement?.stop();
    await this.#ingest?.drain();
    await this.#liveness?.stop();
    await this.#events?.drain();
    if (!this.#injectedStore) await this.#store?.close();
    this.#lock?.release();
    this.#lock = undefined;
    if (this.#scratch !== undefined) await rm(this.#scratch, { recursive: true, force: true });
    this.#scratch = undefined;
    this.#http = undefined;
    this.#endpoint = undefined;
    this.#liveness = undefined;
    this.#deploymentController = undefined;
    this.#autonomic = undefined;
    this.#autonomicService = undefined;
    this.#rolloutController = undefined;
  }
}

/** The hub's own policies, those not stored yet: an operator's version of one is kept. */
async function installHubPolicies(store: Store, clock: Clock): Promise<void> {
  for (const p of HUB_POLICIES) {
    if (await store.getPolicy(p.name)) continue;
    await store.putPolicy({
      name: p.name,
      uid: newUid(),
      labels: p.labels,
      spec: p.spec,
      createdAt: clock.now(),
      resourceVersion: 1,
    });
  }
}

async function openStore(dataDir: string | null, logger: Logger): Promise<Store> {
  // Readings stay staged (and acknowledged: they are in the log) until a move succeeds.
  const onMoveError = (err: unknown) =>
    logger.error({ err }, 'could not move staged telemetry to blocks; it stays in the ingest log, tried again soon');
  if (dataDir === null) return openSqliteStore(':memory:', { onMoveError });
  return openSqliteStore(join(dataDir, 'hub.db'), { onMoveError });
}
