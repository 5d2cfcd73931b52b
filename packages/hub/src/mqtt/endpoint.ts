// The embedded MQTT endpoint: aedes behind a guarded TCP listener, and the hooks that make it
// Homeostat's: device authentication, the topic ACL, and "acknowledged means handled" (device
// messages are handled in authorizePublish, which runs before a QoS 1 PUBACK is written). This
// file wires aedes to its parts and keeps what follows a connection: liveness, the twin sent on
// connect, the hub's own publishes and closing a device's connection.

import { topics } from '@homeostat/protocol';
import { Aedes } from 'aedes';
import type { EnrollmentService } from '../services/enrollment.js';
import { maySubscribe } from './acl.js';
import { authError, authenticate, newSessions, SERVER_UNAVAILABLE, type Sessions } from './authentication.js';
import { ClaimDesk } from './claims.js';
import type { HandlerDeps } from './context.js';
import { GuardedListener } from './listener.js';
import { type HubPublish, refuse } from './notices.js';
import { authorizePublish, type PublishContext } from './publish-path.js';
import { indexedMemoryPersistence } from './retained-index.js';

export { LISTEN_BACKLOG } from './listener.js';

export interface EndpointDeps extends HandlerDeps {
  enrollment: EnrollmentService;
}

export class MqttEndpoint {
  readonly #deps: EndpointDeps;
  readonly #sessions: Sessions = newSessions();
  readonly #listener: GuardedListener;
  /** What authentication, the publish path and the refusals share. */
  readonly #ctx: PublishContext & { deps: EndpointDeps };
  #aedes: Aedes | undefined;

  constructor(deps: EndpointDeps) {
    this.#deps = deps;
    this.#listener = new GuardedListener(deps);
    const publish: HubPublish = (topic, payload, options) => this.publish(topic, payload, options);
    this.#ctx = { deps, sessions: this.#sessions, claims: new ClaimDesk(deps), publish };
  }

  get port(): number {
    return this.#listener.port;
  }

  isConnected(deviceId: string): boolean {
    return this.#sessions.current.has(deviceId);
  }

  get connectionCount(): number {
    return this.#sessions.current.size;
  }

  async start(host: string, port: number): Promise<void> {
    const aedes = await Aedes.createBroker({
      persistence: indexedMemoryPersistence(),
      authenticate: (client, username, password, done) => {
        authenticate(this.#ctx, client, username, password).then(
          (err) => done(err, err === null),
          (err: unknown) => {
            this.#deps.logger.error({ err }, 'authentication failed unexpectedly');
            done(authError(SERVER_UNAVAILABLE, 'server unavailable'), false);
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
          handling = authorizePublish(this.#ctx, client, packet);
        } catch (err) {
          fail(err);
          return;
        }
        // Handled already (a heartbeat): acknowledged without a round through the promise queue.
        if (handling === undefined) done(null);
        else handling.then(() => done(null), fail);
      },
      authorizeSubscribe: (client, sub, done) => {
        const identity = this.#sessions.identities.get(client);
        if (identity && maySubscribe(identity, sub.topic)) {
          done(null, sub);
          return;
        }
        this.#deps.metrics.mqttSubscribeDenied.inc();
        const device = identity?.kind === 'device' ? identity.id : null;
        refuse(this.#ctx, device, {
          code: 'ERR_MQTT_SUBSCRIBE_DENIED',
          topic: sub.topic,
          message: `subscription to ${sub.topic} refused`,
        });
        done(null, null);
      },
    });
    const { identities, current, superseded } = this.#sessions;
    aedes.on('clientReady', (client) => {
      const identity = identities.get(client);
      if (identity?.kind !== 'device') return;
      current.set(identity.id, client);
      this.#deps.metrics.mqttConnections.set(current.size);
      this.#deps.liveness.observe(identity.id, { kind: 'connected', at: this.#deps.clock.now() });
      void this.#reconcileTwin(identity.id);
    });
    aedes.on('clientDisconnect', (client) => {
      const identity = identities.get(client);
      if (identity?.kind !== 'device' || current.get(identity.id) !== client) return;
      current.delete(identity.id);
      if (superseded.has(client)) return;
      this.#deps.metrics.mqttConnections.set(current.size);
      this.#deps.liveness.observe(identity.id, {
        kind: 'disconnected',
        at: this.#deps.clock.now(),
        detail: 'the MQTT connection closed',
      });
    });
    aedes.on('clientError', (client, err) => {
      this.#deps.logger.debug({ client: client.id, err: err.message }, 'mqtt client error');
    });
    // Kept before listening, so that stop() closes the broker (and its timers) when listen fails.
    this.#aedes = aedes;
    await this.#listener.listen(host, port, (connection) => aedes.handle(connection));
  }

  /**
   * Stops accepting connections first (devices reconnect at once, and a connection accepted
   * during shutdown would keep the server open), then closes the broker and its clients, then
   * whatever socket is left.
   */
  async stop(): Promise<void> {
    const aedes = this.#aedes;
    this.#aedes = undefined;
    const closed = this.#listener.close();
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    this.#listener.destroySockets();
    await closed;
    this.#sessions.current.clear();
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
    this.#sessions.credentials.delete(deviceId);
    const client = this.#sessions.current.get(deviceId);
    if (client) {
      // The hub closes it: its will and its disconnect say nothing about the device.
      this.#sessions.superseded.add(client);
      await new Promise<void>((resolve) => client.close(() => resolve()));
    }
    if (forget) {
      // An empty retained payload deletes the retained message [MQTT-3.3.1-10].
      await this.publish(topics.twinDesired(deviceId), '', { qos: 0, retain: true });
      await this.publish(topics.status(deviceId), '', { qos: 0, retain: true });
    }
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
}
