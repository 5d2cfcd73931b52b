// A TCP proxy that can cut, refuse and delay connections, placed between a client and a broker
// to test behaviour under network faults with real sockets.

import { createConnection, createServer, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { listenOnFreePort } from './listen.js';

export interface FaultyProxyOptions {
  target: { host: string; port: number };
}

export interface FaultyProxy {
  port: number;
  url: string;
  /** Destroys every open connection and refuses new ones until `restore()`. */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  /** Delays every chunk, both ways, by `ms` (real time); 0 forwards at once. Order is kept. */
  setDelay(ms: number): void;
  /** Number of client connections currently proxied. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startFaultyProxy(options: FaultyProxyOptions): Promise<FaultyProxy> {
  const { target } = options;
  let refusing = false;
  let delayMs = 0;
  const open = new Set<Socket>();

  // A chunk waits `delayMs` before it is passed on; the next one is not taken before, so order holds.
  const delayer = () =>
    new Transform({
      transform(chunk: Buffer, _encoding, done: TransformCallback) {
        if (delayMs <= 0) done(null, chunk);
        else setTimeout(() => done(null, chunk), delayMs);
      },
    });

  const server = createServer({ noDelay: true }, (client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: target.host, port: target.port, noDelay: true });
    open.add(client);
    open.add(upstream);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', teardown);
      socket.on('close', teardown);
    }
    client.pipe(delayer()).pipe(upstream);
    upstream.pipe(delayer()).pipe(client);
  });
  const port = await listenOnFreePort(server, 'faulty proxy');
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    cut() {
      refusing = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    restore() {
      refusing = false;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    get connections() {
      return open.size / 2;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        refusing = true;
        for (const socket of open) socket.destroy();
        open.clear();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
