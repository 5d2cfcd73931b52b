// The composition root: the one place that builds the hub's parts and wires them together.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, type Logger, silentLogger, systemClock } from '@homeostat/kit';
import { LIVENESS_STATES } from '@homeostat/protocol';
import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import type { HubConfig } from './config.js';
import { LivenessTracker } from './controllers/liveness.js';
import { RetentionJob } from './controllers/retention.js';
import { EventLog } from './events.js';
import { buildHttpServer } from './http/server.js';
import { IngestBatcher } from './ingest/batcher.js';
import { createMetrics, type HubMetrics } from './metrics.js';
import { MqttEndpoint } from './mqtt/endpoint.js';
import { DeviceService } from './services/devices.js';
import { EnrollmentService } from './services/enrollment.js';
import { TokenService } from './services/tokens.js';
import { openSqliteStore } from './store/sql-store.js';
import type { Store } from './store/store.js';

export const HUB_VERSION = '0.1.0';

export interface HubDeps {
  clock?: Clock;
  logger?: Logger;
  /** A store to use instead of the SQLite file under the data directory. */
  store?: Store;
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
  #enrollment: EnrollmentService | undefined;
  #tokens: TokenService | undefined;
  readonly #injectedStore: Store | undefined;

  constructor(config: HubConfig, deps: HubDeps = {}) {
    this.config = config;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger();
    this.metrics = createMetrics();
    this.#injectedStore = deps.store;
  }

  /** Parts for in-process callers (the demo, tests); available once started. */
  get services() {
    if (!this.#devices || !this.#enrollment || !this.#tokens || !this.#liveness || !this.#store || !this.#events) {
      throw new Error('the hub is not started');
    }
    return {
      devices: this.#devices,
      enrollment: this.#enrollment,
      tokens: this.#tokens,
      liveness: this.#liveness,
      store: this.#store,
      events: this.#events,
    };
  }

  async start(): Promise<StartedHub> {
    const { config, clock, logger, metrics } = this;
    const store = this.#injectedStore ?? (await openStore(config.dataDir));
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
    const ingest = new IngestBatcher({ store, metrics, logger });
    this.#retention = new RetentionJob({ store, clock, logger, metrics, retention: config.retention });
    this.#ingest = ingest;
    const endpoint = new MqttEndpoint({ store, clock, logger, metrics, events, liveness, ingest, config, enrollment });
    const devices = new DeviceService({ store, clock, liveness, channel: endpoint, events });
    const tokens = new TokenService({ store, clock });
    const initialAdminToken = await tokens.bootstrap(config.adminToken);
    if (initialAdminToken === null && config.adminToken !== null) {
      const known = await tokens.authenticate(config.adminToken);
      if (!known) logger.warn('HOMEOSTAT_ADMIN_TOKEN is set but the hub has tokens already; it was not added');
    }
    const http = await buildHttpServer({
      logger,
      metrics,
      store,
      devices,
      enrollment,
      tokens,
      maxBodyBytes: config.maxBodyBytes,
      mqttReady: () => endpoint.port > 0,
      version: HUB_VERSION,
    });
    this.#events = events;
    this.#liveness = liveness;
    this.#endpoint = endpoint;
    this.#devices = devices;
    this.#enrollment = enrollment;
    this.#tokens = tokens;
    this.#http = http;
    try {
      await endpoint.start(config.listen, config.mqttPort);
      await http.listen({ host: config.listen, port: config.httpPort });
    } catch (err) {
      await this.stop();
      throw err;
    }
    liveness.start();
    this.#retention.start();
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

  async stop(): Promise<void> {
    await this.#http?.close();
    await this.#endpoint?.stop();
    await this.#retention?.stop();
    await this.#ingest?.drain();
    await this.#liveness?.stop();
    await this.#events?.drain();
    if (!this.#injectedStore) await this.#store?.close();
    this.#http = undefined;
    this.#endpoint = undefined;
    this.#liveness = undefined;
  }
}

async function openStore(dataDir: string | null): Promise<Store> {
  if (dataDir === null) return openSqliteStore(':memory:');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return openSqliteStore(join(dataDir, 'hub.db'));
}
