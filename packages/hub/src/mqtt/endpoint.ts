// The embedded MQTT endpoint: aedes on a TCP server with Nagle off, and the hooks that make it
// Homeostat's: device authentication, the topic ACL, and "acknowledged means handled" (device
// messages are handled in authorizePublish, which runs before a QoS 1 PUBACK is written).

import { createServer, type Server, type Socket } from 'node:net';
import { hashToken, sameHash } from '@homeostat/kit';
import {
  CLAIM_USERNAME,
  type DeviceTopicKind,
  type ErrorCode,
  type ErrorNotice,
  type HomeostatError,
  topics,
} from '@homeostat/protocol';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import type { EnrollmentService } from '../services/enrollment.js';
import { decidePublish, type Identity, maySubscribe } from './acl.js';
import { ClaimDesk, claimRefusal } from './claims.js';
import type { HandlerDeps, HandlerResult } from './context.js';
import { handlerFor } from './dispatcher.js';
import { GuardedConnection, guardConnection } from './packet-guard.js';
import { indexedMemoryPersistence } from './retained-index.js';

export interface EndpointDeps extends HandlerDeps {
  enrollment: EnrollmentService;
}

/** Where refused publishes are sent instead: no client can subscribe to a `$` topic through the ACL. */
const SINK_TOPIC = '$homeostat/refused';
/**
 * Room above the payload limit for the rest of a packet (topic, ids), in bytes: a payload a
 * little over the limit still gets its polite refusal and notice; a packet far over it closes
 * the connection before it is buffered.
 */
const PACKET_HEADROOM_BYTES = 128 * 1024;
/**
 * Connections waiting to be accepted, at most (the kernel caps it at `net.core.somaxconn`). Node's
 * default, 511, overflows when thousands of devices connect at once (a hub restart, a wave of an
 * update rebooting): the kernel then drops their SYNs and each device waits a second or more for
 * its TCP retransmission.
 */
export const LISTEN_BACKLOG = 4096;
/**
 * Messages of one connection whose PUBACK may wait for their commit while the broker reads on;
 * past it, the broker waits for the commit before it reads the connection's next packets.
 */
const MAX_HELD_PER_CONNECTION = 256;
/** Claim client ids become a topic level; keep them plain. */
const CLAIM_CLIENT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

// aedes connect return codes [MQTT-3.2.2.3]
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function authError(code: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

/** What the hub tells a device about something it refused or corrected. */
interface Notice {
  code: ErrorCode;
  topic: string;
  message: string;
  details?: string[] | undefined;
  seq?: number | undefined;
  data?: Record<string, unknown> | undefined;
}

function fromError(error: HomeostatError): Omit<Notice, 'topic'> {
  return { code: error.code, message: error.message, details: error.details };
}

export class MqttEndpoint {
  readonly #deps: EndpointDeps;
  readonly #claims: ClaimDesk;
  #aedes: Aedes | undefined;
  #server: Server | undefined;
  #stopping = false;
  readonly #sockets = new Set<Socket>();
  readonly #identities = new WeakMap<Client, Identity>();
  /** The connection that speaks for each device now; older ones (taken over) are ignored. */
  readonly #current = new Map<string, Client>();
  /**
   * Connections replaced by a newer one of the same device (a takeover). aedes closes them and
   * publishes their will before the new connection is ready; neither says anything any more.
   */
  readonly #superseded = new WeakSet<Client>();
  /**
   * Device credentials as last read from the store, so a fleet reconnecting at once does not
   * queue thousands of reads behind the writes. Every change of a device's token or lifecycle
   * goes through `disconnect`, which drops the entry.
   */
  readonly #auth = new Map<string, { tokenHash: string; lifecycle: string }>();

  constructor(deps: EndpointDeps) {
    this.#deps = deps;
    this.#claims = new ClaimDesk(deps);
  }

  get port(): number {
    const address = this.#server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  isConnected(deviceId: string): boolean {
    return this.#current.has(deviceId);
  }

  get connectionCount(): number {
    return this.#current.size;
  }

  async start(host: string, port: number): Promise<void> {
    const aedes = await Aedes.createBroker({
      persistence: indexedMemoryPersistence(),
      authenticate: (client, username, password, done) => {
        this.#authenticate(client, username, password).then(
          (err) => done(err, err === null),
          (err: unknown) => {
            this.#deps.logger.error({ err }, 'authentication failed unexpectedly');
            done(authError(3, 'server unavailable'), false);
          },
        );
      },
      authorizePublish: (client, packet, done) => {
        if (client === null) {
          done(null);
          return;
        }
        const fail = (err: unknown) => {
          // A failure of the hub (not of the message): no acknowledgement, so the device sends it again.
          this.#deps.logger.error({ err, topic: packet.topic }, 'could not handle a message');
          done(err as Error);
        };
        let handling: Promise<void> | undefined;
        try {
          handling = this.#authorizePublish(client, packet);
        } catch (err) {
          fail(err);
          return;
        }
        // Handled already (a heartbeat): acknowledged without a round through the promise queue.
        if (handling === undefined) done(null);
        else handling.then(() => done(null), fail);
      },
      authorizeSubscribe: (client, sub, done) => {
        const identity = this.#identities.get(client);
        if (identity && maySubscribe(identity, sub.topic)) {
          done(null, sub);
          return;
        }
        this.#deps.metrics.mqttSubscribeDenied.inc();
        const device = identity?.kind === 'device' ? identity.id : null;
        this.#refuse(device, {
          code: 'ERR_MQTT_SUBSCRIBE_DENIED',
          topic: sub.topic,
          message: `subscription to ${sub.topic} refused`,
        });
        done(null, null);
      },
    });
    aedes.on('clientReady', (client) => {
      const identity = this.#identities.get(client);
      if (identity?.kind !== 'device') return;
      this.#current.set(identity.id, client);
      this.#deps.metrics.mqttConnections.set(this.#current.size);
      this.#deps.liveness.observe(identity.id, { kind: 'connected', at: this.#deps.clock.now() });
      void this.#reconcileTwin(identity.id);
    });
    aedes.on('clientDisconnect', (client) => {
      const identity = this.#identities.get(client);
      if (identity?.kind !== 'device' || this.#current.get(identity.id) !== client) return;
      this.#current.delete(identity.id);
      if (this.#superseded.has(client)) return;
      this.#deps.metrics.mqttConnections.set(this.#current.size);
      this.#deps.liveness.observe(identity.id, {
        kind: 'disconnected',
        at: this.#deps.clock.now(),
        detail: 'the MQTT connection closed',
      });
    });
    aedes.on('clientError', (client, err) => {
      this.#deps.logger.debug({ client: client.id, err: err.message }, 'mqtt client error');
    });
    // Every connection goes through the packet guard: a packet announcing more than the limit
    // closes the connection before its body is read, authenticated or not.
    const server = createServer({ noDelay: true }, (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      if (this.#stopping) {
        socket.destroy();
        return;
      }
      aedes.handle(
        guardConnection(socket, {
          maxPacketBytes: this.#deps.config.maxPayloadBytes + PACKET_HEADROOM_BYTES,
          onViolation: (info) => {
            this.#deps.metrics.mqttPacketsRefused.inc({ reason: info.reason });
            this.#deps.logger.warn(info, 'mqtt packet refused; connection closed');
            this.#deps.events.record({
              device: null,
              type: 'security',
              code: 'ERR_PAYLOAD_TOO_LARGE',
              severity: 'warning',
              message: `MQTT connection closed: ${info.reason === 'malformed' ? 'malformed packet length' : `packet of ${info.remainingLength} bytes announced, limit ${info.limit}`}`,
              data: { ...info },
            });
          },
        }),
      );
    });
    // Kept before listening, so that stop() closes the broker (and its timers) when listen fails.
    this.#aedes = aedes;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  /**
   * Stops accepting connections first (devices reconnect at once, and a connection accepted
   * during shutdown would keep the server open), then closes the broker and its clients, then
   * whatever socket is left.
   */
  async stop(): Promise<void> {
    const server = this.#server;
    const aedes = this.#aedes;
    this.#server = undefined;
    this.#aedes = undefined;
    this.#stopping = true;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#current.clear();
  }

  /** Publishes from the hub, bypassing the ACL (which governs devices). */
  publish(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }): Promise<void> {
    const aedes = this.#aedes;
    if (!aedes) return Promise.resolve();
    return new Promise((resolve, reject) => {
      aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos: options.qos, retain: options.retain, dup: false },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Sends the whole desired state, retained, so a device that is offline gets it on connect. */
  publishDesired(deviceId: string, desired: { version: number; state: Record<string, unknown> }): Promise<void> {
    return this.publish(topics.twinDesired(deviceId), JSON.stringify(desired), { qos: 1, retain: true });
  }

  /** Closes a device's connection (deleted device, rotated token) and forgets its retained state. */
  async disconnect(deviceId: string, forget: boolean): Promise<void> {
    this.#auth.delete(deviceId);
    const client = this.#current.get(deviceId);
    if (client) {
      // The hub closes it: its will and its disconnect say nothing about the device.
      this.#superseded.add(client);
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
    if (forget) {
      // An empty retained payload deletes the retained message [MQTT-3.3.1-10].
      await this.publish(topics.twinDesired(deviceId), '', { qos: 0, retain: true });
      await this.publish(topics.status(deviceId), '', { qos: 0, retain: true });
    }
  }

  async #authenticate(client: Client, username?: string, password?: Buffer): Promise<AuthenticateError | null> {
    const { metrics } = this.#deps;
    if (!username || !password || password.length === 0) {
      metrics.mqttAuthFailures.inc({ reason: 'anonymous' });
      this.#securityEvent(null, 'ERR_MQTT_ANONYMOUS', 'anonymous MQTT connection refused', { clientId: client.id });
      return authError(NOT_AUTHORIZED, 'anonymous connections are refused');
    }
    const secret = password.toString('utf8');
    if (username === CLAIM_USERNAME) {
      if (!CLAIM_CLIENT_ID.test(client.id)) {
        metrics.mqttAuthFailures.inc({ reason: 'client-id' });
        return authError(IDENTIFIER_REJECTED, 'claim client id must match [A-Za-z0-9_.-]{1,64}');
      }
      const claim = await this.#deps.enrollment.authenticateClaim(secret);
      if (!claim.ok) {
        metrics.mqttAuthFailures.inc({ reason: 'claim' });
        this.#securityEvent(null, claim.error.code, `claim connection refused: ${claim.error.message}`, {
          clientId: client.id,
        });
        return authError(BAD_USERNAME_OR_PASSWORD, claim.error.message);
      }
      this.#identities.set(client, { kind: 'claim', group: claim.group, clientId: client.id });
      return null;
    }
    const device = await this.#credentials(username);
    if (device?.lifecycle === 'retired') {
      // Its token was revoked when it was replaced: say why, not merely "wrong token".
      metrics.mqttAuthFailures.inc({ reason: 'retired' });
      this.#securityEvent(device.name, 'ERR_DEVICE_RETIRED', 'MQTT connection refused: device is retired', {
        lifecycle: device.lifecycle,
      });
      return authError(NOT_AUTHORIZED, 'device is retired');
    }
    if (!device || !sameHash(device.tokenHash, hashToken(secret))) {
      metrics.mqttAuthFailures.inc({ reason: 'credentials' });
      // Only a device that exists gets the event under its name: unknown names are not stored.
      this.#securityEvent(
        device ? device.name : null,
        'ERR_MQTT_AUTH_FAILED',
        'MQTT connection refused: bad credentials',
        {
          username: device ? device.name : '(unknown device)',
        },
      );
      return authError(BAD_USERNAME_OR_PASSWORD, 'unknown device or wrong token');
    }
    if (client.id !== username) {
      metrics.mqttAuthFailures.inc({ reason: 'client-id' });
      this.#securityEvent(
        device.name,
        'ERR_MQTT_CLIENT_ID',
        'MQTT connection refused: client id is not the device name',
        {
          clientId: client.id,
        },
      );
      return authError(IDENTIFIER_REJECTED, 'client id must be the device name');
    }
    if (device.lifecycle === 'quarantined' || device.lifecycle === 'retired') {
      metrics.mqttAuthFailures.inc({ reason: device.lifecycle });
      this.#securityEvent(
        device.name,
        'ERR_MQTT_AUTH_FAILED',
        `MQTT connection refused: device is ${device.lifecycle}`,
        {
          lifecycle: device.lifecycle,
        },
      );
      return authError(NOT_AUTHORIZED, `device is ${device.lifecycle}`);
    }
    const previous = this.#current.get(device.name);
    if (previous && previous !== client) this.#superseded.add(previous);
    this.#identities.set(client, { kind: 'device', id: device.name });
    return null;
  }

  /** A device's credentials, from the cache or the store (only existing devices are cached). */
  async #credentials(name: string): Promise<{ name: string; tokenHash: string; lifecycle: string } | undefined> {
    let cached = this.#auth.get(name);
    if (!cached) {
      const record = await this.#deps.store.getDevice(name);
      if (!record) return undefined;
      cached = { tokenHash: record.tokenHash, lifecycle: record.lifecycle };
      this.#auth.set(name, cached);
    }
    return { name, ...cached };
  }

  /**
   * Handles a device's message before it is acknowledged: undefined when done at once (no I/O),
   * else a promise of the handling.
   */
  #authorizePublish(client: Client, packet: PublishPacket): Promise<void> | undefined {
    const identity = this.#identities.get(client);
    const deps = this.#deps;
    if (!identity) {
      this.#sink(packet);
      return undefined;
    }
    const device = identity.kind === 'device' ? identity.id : null;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (payload.length > deps.config.maxPayloadBytes) {
      const refuse = () =>
        this.#reject(packet, device, {
          code: 'ERR_PAYLOAD_TOO_LARGE',
          message: `payload of ${payload.length} bytes is over the limit of ${deps.config.maxPayloadBytes}`,
        });
      if (identity.kind !== 'claim') {
        refuse();
        return undefined;
      }
      return this.#respondToClaim(identity, claimRefusal('ERR_PAYLOAD_TOO_LARGE', 'claim request too large')).then(
        refuse,
      );
    }
    const decision = decidePublish(identity, packet.topic);
    if (!decision.allow) {
      this.#reject(packet, device, {
        code: decision.code,
        message: `publish to ${packet.topic} refused: ${decision.reason}`,
      });
      return undefined;
    }
    if ('claim' in decision) {
      this.#sink(packet);
      if (identity.kind !== 'claim') return undefined;
      return this.#claims
        .answer(identity.group, identity.clientId, payload)
        .then((response) => this.#respondToClaim(identity, response));
    }
    // Only status is retained (it is the device's presence); anything else would pile up in the broker.
    if (decision.topic.kind !== 'status') packet.retain = false;
    const handler = handlerFor(decision.topic.kind);
    if (!handler || device === null) {
      this.#reject(packet, device, { code: 'ERR_MQTT_TOPIC_DENIED', message: `publish to ${packet.topic} refused` });
      return undefined;
    }
    const isWill = client.closed;
    // A will from a connection that was taken over speaks for nobody any more.
    if (isWill && (this.#superseded.has(client) || this.#current.get(device) !== client)) {
      this.#sink(packet);
      return undefined;
    }
    const now = deps.clock.now();
    const kind = decision.topic.kind;
    const result = handler(deps, { deviceId: device, topic: packet.topic, payload, isWill, now });
    if (result instanceof Promise) return result.then((r) => this.#handled(client, packet, device, kind, now, r));
    return this.#handled(client, packet, device, kind, now, result);
  }

  /**
   * What follows a handler's answer: the refusal or the count, liveness, and the warnings (once
   * stored, for a message taken but not stored yet). Undefined when nothing is left to wait for.
   */
  #handled(
    client: Client,
    packet: PublishPacket,
    device: string,
    kind: DeviceTopicKind,
    now: number,
    result: HandlerResult,
  ): Promise<void> | undefined {
    const deps = this.#deps;
    if (!result.ok) {
      this.#reject(packet, device, { ...fromError(result.error), seq: result.seq, data: result.data });
      return undefined;
    }
    deps.metrics.countMessage(kind);
    if (kind !== 'heartbeat' && kind !== 'status') {
      deps.liveness.observe(device, { kind: 'message', at: now });
    }
    const topic = packet.topic;
    if (result.committed === undefined) {
      this.#warn(device, topic, result);
      return undefined;
    }
    // Taken, not stored yet. Rather than keep the broker from reading this connection's next
    // packets until the commit (they would miss the batch being gathered), the connection holds
    // back its PUBACK, and what it writes after, until the commit: acknowledged still means stored.
    const conn: unknown = client.conn;
    if (conn instanceof GuardedConnection && conn.holds < MAX_HELD_PER_CONNECTION) {
      conn.hold(result.committed.then((r) => this.#warn(device, topic, r)));
      return undefined;
    }
    return result.committed.then((r) => this.#warn(device, topic, r));
  }

  /** Tells the device what its message's result warns of. */
  #warn(device: string, topic: string, result: HandlerResult): void {
    if (!result.ok) return;
    for (const warning of result.warnings ?? []) {
      this.#tell(device, 'protocol', { ...fromError(warning.error), topic, seq: warning.seq });
    }
  }

  async #respondToClaim(identity: Extract<Identity, { kind: 'claim' }>, response: string): Promise<void> {
    await this.publish(topics.claimResponse(identity.clientId), response, { qos: 1, retain: false });
  }

  async #reconcileTwin(deviceId: string): Promise<void> {
    try {
      const device = await this.#deps.store.getDevice(deviceId);
      // Level-based: sent on every connect, not only when the device looks out of sync. A device
      // that lost its storage reports as if new, and a hub restart lost the retained copy.
      if (!device || device.desired.version === 0) return;
      await this.publishDesired(deviceId, { version: device.desired.version, state: device.desired.state });
    } catch (err) {
      this.#deps.logger.error({ err, device: deviceId }, 'could not send the desired state');
    }
  }

  /** Acknowledges without delivering, and tells the device why. */
  #reject(packet: PublishPacket, device: string | null, notice: Omit<Notice, 'topic'>): void {
    const topic = packet.topic;
    this.#sink(packet);
    this.#refuse(device, { ...notice, topic });
  }

  #refuse(device: string | null, notice: Notice): void {
    this.#deps.metrics.mqttRejected.inc({ code: notice.code });
    const security = notice.code === 'ERR_MQTT_TOPIC_DENIED' || notice.code === 'ERR_MQTT_SUBSCRIBE_DENIED';
    this.#tell(device, security ? 'security' : 'protocol', notice);
  }

  /** Logs the event and sends the notice on the device's `errors` topic. */
  #tell(device: string | null, type: 'security' | 'protocol', notice: Notice): void {
    const { code, topic, message, details, seq, data } = notice;
    this.#deps.events.record({
      device,
      type,
      code,
      severity: 'warning',
      message,
      data: { topic, ...(details ? { details } : {}), ...(seq !== undefined ? { seq } : {}) },
    });
    if (device === null) return;
    const wire: ErrorNotice = {
      code,
      message,
      topic,
      ...(seq !== undefined ? { seq } : {}),
      ...(details ? { details } : {}),
      ...(data ? { data } : {}),
    };
    this.publish(topics.errors(device), JSON.stringify(wire), { qos: 0, retain: false }).catch(() => {});
  }

  #sink(packet: PublishPacket): void {
    packet.topic = SINK_TOPIC;
    packet.retain = false;
  }

  #securityEvent(device: string | null, code: ErrorCode, message: string, data: Record<string, unknown>): void {
    this.#deps.events.record({ device, type: 'security', code, severity: 'warning', message, data });
  }
}
