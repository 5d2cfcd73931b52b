// An aedes broker on a real TCP socket (127.0.0.1, a free port) for integration tests: the agent
// and the hub talk to it exactly as they would to a deployed broker.

import { createServer, type Socket } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import { listenOnFreePort } from './listen.js';

/** aedes options; the hooks tests use most are `authenticate`, `authorizePublish`, `authorizeSubscribe`. */
export type TestBrokerOptions = AedesOptions;

export interface TestBroker {
  url: string;
  port: number;
  aedes: Aedes;
  /** Closes the broker, destroys every open connection and stops listening. Idempotent. */
  close(): Promise<void>;
}

export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  // aedes refuses client ids over 23 characters by default (the MQTT 3.1.1 minimum a server must
  // accept); device names may be longer.
  const aedes = await Aedes.createBroker({ maxClientsIdLength: 128, ...options });
  const sockets = new Set<Socket>();
  // noDelay: without it every QoS 1 round trip waits for Nagle's algorithm (tens of ms).
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  const port = await listenOnFreePort(server, 'test broker');
  let closing: Promise<void> | undefined;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    aedes,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}
