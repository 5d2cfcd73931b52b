// The endpoint's TCP side: a server with Nagle off and a deep accept queue, whose every
// connection goes through the packet guard before aedes reads it, and which stops accepting
// before the broker closes. Kept apart from the broker's hooks: it knows sockets, not clients.

import { createServer, type Server, type Socket } from 'node:net';
import type { HandlerDeps } from './context.js';
import { type GuardedConnection, guardConnection } from './packet-guard.js';

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

export type ListenerDeps = Pick<HandlerDeps, 'config' | 'metrics' | 'logger' | 'events'>;

export class GuardedListener {
  readonly #deps: ListenerDeps;
  #server: Server | undefined;
  #stopping = false;
  readonly #sockets = new Set<Socket>();

  constructor(deps: ListenerDeps) {
    this.#deps = deps;
  }

  get port(): number {
    const address = this.#server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Listens on `host:port` and hands each connection, guarded, to `handle` (aedes). */
  async listen(host: string, port: number, handle: (connection: GuardedConnection) => void): Promise<void> {
    const deps = this.#deps;
    // Every connection goes through the packet guard: a packet announcing more than the limit
    // closes the connection before its body is read, authenticated or not.
    const server = createServer({ noDelay: true }, (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      if (this.#stopping) {
        socket.destroy();
        return;
      }
      handle(
        guardConnection(socket, {
          maxPacketBytes: deps.config.maxPayloadBytes + PACKET_HEADROOM_BYTES,
          onViolation: (info) => {
            deps.metrics.mqttPacketsRefused.inc({ reason: info.reason });
            deps.logger.warn(info, 'mqtt packet refused; connection closed');
            deps.events.record({
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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
  }

  /** Stops accepting connections (one accepted from now on is destroyed); resolves once the server is closed. */
  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#stopping = true;
    return server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
  }

  /** Destroys every connection still open. */
  destroySockets(): void {
    for (const socket of this.#sockets) socket.destroy();
  }
}
