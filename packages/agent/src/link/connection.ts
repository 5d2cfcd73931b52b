// A running agent's side of the hub link: what it does each time the connection comes up
// (subscribe, announce, report the twin, heartbeats, drain) or goes down, and where each message
// from the hub goes (desired state, commands, error notices).

import type { Clock, Logger, Timer } from '@homeostat/kit';
import {
  type Capabilities,
  ErrorNotice,
  type HeartbeatMessage,
  parseJson,
  parser,
  type StatusMessage,
  topics,
} from '@homeostat/protocol';
import type { MqttClient } from 'mqtt';
import { AGENT_VERSION } from '../agent-options.js';
import type { CommandRouter } from '../commands.js';
import type { Drainer } from '../outbox/drainer.js';
import type { DropMonitor } from '../outbox/drop-monitor.js';
import type { TwinSync } from '../twin/twin-sync.js';
import type { HubLink } from './hub-link.js';

const parseNotice = parser(ErrorNotice);

export interface ConnectionDeps {
  deviceId: string;
  link: HubLink;
  twin: TwinSync;
  drops: DropMonitor;
  drainer: Drainer;
  commands: CommandRouter;
  /** Heartbeat period, ms. */
  heartbeatMs: number;
  /** When the agent started, on the clock: heartbeats carry the uptime since. */
  startedAt: number;
  capabilities: () => Capabilities;
  /** The link came up (after the connection's own work) or went down (before it). */
  onLink: (up: boolean) => void;
  connected: () => void;
  disconnected: (reason: string) => void;
  errorNotice: (notice: ErrorNotice) => void;
  clock: Clock;
  logger: Logger;
}

export class Connection {
  readonly #d: ConnectionDeps;
  #heartbeat: Timer | null = null;

  constructor(deps: ConnectionDeps) {
    this.#d = deps;
  }

  /** Listens to the link; the link itself is started by its owner. */
  start(): void {
    const { link, onLink, drainer } = this.#d;
    link.events.on('up', (client) => {
      this.#onUp(client);
      onLink(true);
    });
    link.events.on('down', ({ reason }) => {
      onLink(false);
      this.#heartbeat?.cancel();
      this.#heartbeat = null;
      drainer.detach();
      this.#d.disconnected(reason);
    });
    link.events.on('message', ({ topic, payload }) => this.#onMessage(topic, payload));
  }

  /** Stops the heartbeats; the link and the drainer are stopped by their owner. */
  stop(): void {
    this.#heartbeat?.cancel();
  }

  /** Subscribe, announce, report the twin, then drain: MQTT keeps this order on the wire. */
  #onUp(client: MqttClient): void {
    const { deviceId, link, clock, heartbeatMs } = this.#d;
    client.subscribe(
      {
        [topics.twinDesired(deviceId)]: { qos: 1 },
        [topics.commands(deviceId)]: { qos: 1 },
        [topics.errors(deviceId)]: { qos: 0 },
      },
      (err, granted) => {
        const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? [];
        if (err || refused.length > 0)
          this.#d.logger.error({ err: err?.message, refused }, 'agent: subscription refused');
      },
    );
    const status: StatusMessage = {
      online: true,
      ts: clock.now(),
      heartbeatMs,
      agent: { version: AGENT_VERSION },
      capabilities: this.#d.capabilities(),
    };
    link.publish(topics.status(deviceId), JSON.stringify(status), { qos: 1, retain: true });
    this.#d.drops.refresh();
    this.#d.twin.reportFull();
    this.#heartbeat?.cancel();
    this.#heartbeat = clock.setInterval(() => {
      const beat: HeartbeatMessage = { ts: clock.now(), uptimeMs: clock.now() - this.#d.startedAt };
      link.publish(topics.heartbeat(deviceId), JSON.stringify(beat), { qos: 0 });
    }, heartbeatMs);
    this.#d.drainer.attach((topic, payload, qos, done) => link.publish(topic, payload, { qos }, done));
    this.#d.connected();
  }

  #onMessage(topic: string, payload: Buffer): void {
    const { deviceId } = this.#d;
    if (topic === topics.twinDesired(deviceId)) {
      this.#d.twin.onDesired(payload);
    } else if (topic === topics.errors(deviceId)) {
      this.#onErrorNotice(payload);
    } else if (topic.startsWith(topics.command(deviceId, ''))) {
      const name = topic.slice(topics.command(deviceId, '').length);
      void this.#d.commands.handle(name, payload).catch((err: Error) => {
        this.#d.logger.error({ err: err.message, command: name }, 'agent: command dispatch failed');
      });
    } else {
      this.#d.logger.debug({ topic }, 'agent: message on an unexpected topic ignored');
    }
  }

  #onErrorNotice(payload: Buffer): void {
    const json = parseJson(payload.toString('utf8'));
    const parsed = json.ok ? parseNotice.parse(json.value) : json;
    if (!parsed.ok) {
      this.#d.logger.warn({ problems: parsed.errors }, 'agent: invalid error notice from the hub');
      return;
    }
    const notice = parsed.value;
    this.#d.logger.warn(
      { code: notice.code, topic: notice.topic, seq: notice.seq },
      `hub refused a message: ${notice.message}`,
    );
    const current = notice.data?.currentVersion;
    if (notice.code === 'ERR_TWIN_STALE_REPORTED' && typeof current === 'number') {
      this.#d.twin.adoptVersion(current);
    }
    this.#d.errorNotice(notice);
  }
}
