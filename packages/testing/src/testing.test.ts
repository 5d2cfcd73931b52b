// Tests of the test helpers themselves, over real sockets: the broker relays, the proxy forwards,
// cuts, refuses, recovers and delays.

import assert from 'node:assert/strict';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { startTestBroker } from './broker.js';
import { startFaultyProxy } from './faulty-proxy.js';
import { waitFor } from './wait-for.js';

/** A TCP echo server on a free port. */
async function startEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Opens a client socket; records what it receives and whether it closed. */
async function openClient(port: number) {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  const state = { data: '', closed: false, socket };
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    state.data += d;
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    state.closed = true;
  });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return state;
}

test('the test broker relays messages between two mqtt clients', async (t) => {
  const broker = await startTestBroker();
  t.after(() => broker.close());
  const a = await connectAsync(broker.url, { clientId: 'a' });
  const b = await connectAsync(broker.url, { clientId: 'b' });
  t.after(() => a.endAsync(true));
  t.after(() => b.endAsync(true));
  const got: string[] = [];
  b.on('message', (_topic, payload) => got.push(payload.toString()));
  await b.subscribeAsync('x/#', { qos: 1 });
  await a.publishAsync('x/y', 'hello', { qos: 1 });
  await waitFor(() => got.length === 1);
  assert.deepEqual(got, ['hello']);
});

test('the faulty proxy forwards, cuts, refuses while cut, and recovers', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.close());
  const proxy = await startFaultyProxy({ target: { host: '127.0.0.1', port: echo.port } });
  t.after(() => proxy.close());

  const first = await openClient(proxy.port);
  t.after(() => first.socket.destroy());
  first.socket.write('ping');
  await waitFor(() => first.data === 'ping', { message: 'echo through the proxy' });
  assert.equal(proxy.connections, 1);

  proxy.cut();
  await waitFor(() => first.closed, { message: 'cut closes open connections' });
  const refused = await openClient(proxy.port);
  t.after(() => refused.socket.destroy());
  await waitFor(() => refused.closed, { message: 'new connections are refused while cut' });

  proxy.restore();
  const second = await openClient(proxy.port);
  t.after(() => second.socket.destroy());
  second.socket.write('again');
  await waitFor(() => second.data === 'again', { message: 'forwarding after restore' });
});

test('the faulty proxy delays traffic and keeps its order', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.close());
  const proxy = await startFaultyProxy({ target: { host: '127.0.0.1', port: echo.port } });
  t.after(() => proxy.close());
  const client = await openClient(proxy.port);
  t.after(() => client.socket.destroy());

  proxy.setDelay(60);
  const started = Date.now();
  client.socket.write('a');
  client.socket.write('b');
  client.socket.write('c');
  await waitFor(() => client.data === 'abc', { message: 'delayed echo in order' });
  // Each direction adds at least one delay.
  assert.ok(Date.now() - started >= 100, `took ${Date.now() - started} ms`);

  proxy.setDelay(0);
  client.data = '';
  client.socket.write('d');
  await waitFor(() => client.data === 'd');
});

test('waitFor rejects with its message when the time is up', async () => {
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 30, message: 'never' }),
    /timed out after 30 ms: never/,
  );
});
