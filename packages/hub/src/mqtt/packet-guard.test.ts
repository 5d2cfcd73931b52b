// The packet-size guard: its header scanner over every way of cutting a stream, then a real aedes
// broker behind it on a real port, with mqtt.js and raw sockets as clients.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { Aedes, type Client } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type GuardedConnection, guardConnection, PacketScanner, type PacketViolation } from './packet-guard.js';

/** A Remaining Length as a variable byte integer [MQTT-2.2.3]. */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A packet whose body is all 0xff: read as a header by mistake, it is a malformed length. */
function packet(type: number, bodyLength: number): Buffer {
  const header = Buffer.from([type, ...varint(bodyLength)]);
  return Buffer.concat([header, Buffer.alloc(bodyLength, 0xff)]);
}

/** Feeds `stream` cut at `cuts`; returns the first violation and the chunk it came in. */
function scanCut(limit: number, stream: Buffer, cuts: number[]) {
  const scanner = new PacketScanner(limit);
  let from = 0;
  for (const [index, to] of [...cuts, stream.length].entries()) {
    const violation = scanner.scan(stream.subarray(from, to));
    if (violation) return { violation, chunk: index };
    from = to;
  }
  return { violation: undefined, chunk: -1 };
}

describe('PacketScanner', () => {
  const LIMIT = 2_100_000;
  // Remaining lengths of 0, 1, 2, 3 and 4 bytes, then a header over the limit.
  const packets = [packet(0xc0, 0), packet(0x30, 5), packet(0x32, 200), packet(0x30, 20_000), packet(0x30, LIMIT)];
  const valid = Buffer.concat(packets);
  const over = Buffer.from([0x30, ...varint(LIMIT + 1)]);
  const stream = Buffer.concat([valid, over, Buffer.alloc(64, 0x01)]);
  const expected = { reason: 'too-large', remainingLength: LIMIT + 1, limit: LIMIT };

  test('the encoding of remaining lengths of 1 to 4 bytes', () => {
    assert.deepEqual(
      [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455].map((n) => varint(n).length),
      [1, 1, 2, 2, 3, 3, 4, 4],
    );
    assert.equal(new PacketScanner(268_435_455).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])), undefined);
  });

  test('in one chunk, several packets pass and the oversized header is found', () => {
    assert.equal(new PacketScanner(LIMIT).scan(valid), undefined);
    assert.deepEqual(scanCut(LIMIT, stream, []), { violation: expected, chunk: 0 });
  });

  test('cut in two at every byte position around every header', () => {
    // Every position within 8 bytes of a packet boundary, plus a few deep inside bodies.
    const positions = new Set<number>([1000, 10_000, 1_000_000, valid.length - 10_000]);
    let boundary = 0;
    for (const p of [...packets, over]) {
      for (let d = -8; d <= 8; d++) positions.add(boundary + d);
      boundary += p.length;
    }
    for (const at of positions) {
      if (at <= 0 || at >= stream.length) continue;
      const { violation, chunk } = scanCut(LIMIT, stream, [at]);
      assert.deepEqual(violation, expected, `cut at ${at}`);
      // Found in the chunk holding the header's last byte, never before it.
      assert.equal(chunk, at < valid.length + over.length ? 1 : 0, `cut at ${at}`);
    }
  });

  test('cut in two at every byte position of small packets, and into single bytes', () => {
    const small = Buffer.concat([packet(0xc0, 0), packet(0x30, 5), packet(0x32, 200), packet(0x30, 300), over]);
    for (let at = 1; at < small.length; at++) {
      assert.deepEqual(scanCut(LIMIT, small, [at]).violation, expected, `cut at ${at}`);
      for (let at2 = at + 1; at2 < small.length; at2 += 7) {
        assert.deepEqual(scanCut(LIMIT, small, [at, at2]).violation, expected, `cut at ${at}, ${at2}`);
      }
    }
    const scanner = new PacketScanner(LIMIT);
    for (let i = 0; i < small.length - 1; i++) assert.equal(scanner.scan(small.subarray(i, i + 1)), undefined);
    assert.deepEqual(scanner.scan(small.subarray(small.length - 1)), expected);
  });

  test('a body of exactly the limit passes; one byte more does not', () => {
    assert.equal(new PacketScanner(100).scan(packet(0x30, 100)), undefined);
    assert.equal(new PacketScanner(100).scan(packet(0x30, 101))?.remainingLength, 101);
  });

  test('a fifth length byte is malformed, wherever the chunk is cut', () => {
    const bad = Buffer.concat([packet(0xc0, 0), Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01])]);
    for (let at = 1; at < bad.length; at++) {
      const { violation } = scanCut(Number.MAX_SAFE_INTEGER, bad, [at]);
      assert.equal(violation?.reason, 'malformed', `cut at ${at}`);
    }
  });
});

/** A guarded server-side socket and its peer, over real TCP. */
async function socketPair(): Promise<{ conn: GuardedConnection; peer: Socket; close(): Promise<void> }> {
  let accepted: Socket | undefined;
  const server = createServer((s) => {
    accepted = s;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const peer = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(peer, 'connect');
  while (!accepted) await new Promise((r) => setImmediate(r));
  const conn = guardConnection(accepted, { maxPacketBytes: 1024, onViolation: () => assert.fail('no violation') });
  return {
    conn,
    peer,
    close: async () => {
      peer.destroy();
      accepted?.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('GuardedConnection', () => {
  test('writes keep the socket backpressure and arrive unchanged, in order', async () => {
    const { conn, peer, close } = await socketPair();
    try {
      peer.pause();
      const received: Buffer[] = [];
      let sent = 0;
      const block = Buffer.alloc(256 * 1024);
      // The peer does not read: write() must say stop long before 256 MB.
      while (sent < 256 * 1024 * 1024) {
        block.fill(sent / block.length);
        sent += block.length;
        if (!conn.write(Buffer.from(block))) break;
      }
      assert.ok(sent < 256 * 1024 * 1024, 'write() never returned false');
      const drained = once(conn, 'drain');
      peer.on('data', (chunk: Buffer) => received.push(chunk));
      peer.resume();
      await drained;
      conn.end();
      await once(peer, 'end');
      const all = Buffer.concat(received);
      assert.equal(all.length, sent);
      for (let i = 0; i < sent; i += block.length) assert.equal(all[i], (i / block.length) & 0xff, `block at ${i}`);
      conn.destroy();
      await once(conn, 'close');
      assert.equal(conn.socket.destroyed, true);
    } finally {
      await close();
    }
  });
});

/** What the peer has received (chunks collected in `got`) after `ms` of waiting. */
async function receivedAfter(got: Buffer[], ms = 50): Promise<string> {
  await new Promise((r) => setTimeout(r, ms));
  return Buffer.concat(got).toString();
}

describe('GuardedConnection holds', () => {
  test('bytes written after a hold wait for it, and holds release in the order they were taken', async () => {
    const { conn, peer, close } = await socketPair();
    try {
      const got: Buffer[] = [];
      peer.on('data', (c: Buffer) => got.push(c));
      conn.write('a');
      let commitFirst!: () => void;
      let commitSecond!: () => void;
      conn.hold(new Promise<void>((r) => (commitFirst = r)));
      conn.write('b');
      conn.hold(new Promise<void>((r) => (commitSecond = r)));
      conn.write('c');
      assert.equal(conn.holds, 2);
      assert.equal(await receivedAfter(got), 'a');
      // The second commit ends first: nothing written after the first hold may pass it.
      commitSecond();
      assert.equal(await receivedAfter(got), 'a');
      commitFirst();
      assert.equal(await receivedAfter(got), 'abc');
      assert.equal(conn.holds, 0);
      conn.write('d');
      assert.equal(await receivedAfter(got), 'abcd');
    } finally {
      await close();
    }
  });

  test('a hold hands its value to onSettled before what it held is sent', async () => {
    const { conn, peer, close } = await socketPair();
    try {
      const got: Buffer[] = [];
      peer.on('data', (c: Buffer) => got.push(c));
      const seen: string[] = [];
      let commit!: (value: string) => void;
      conn.hold(new Promise<string>((r) => (commit = r)), (value) =>
        seen.push(`${value}, ${conn.socket.bytesWritten} bytes written`),
      );
      conn.write('puback');
      commit('stored');
      assert.equal(await receivedAfter(got), 'puback');
      assert.deepEqual(seen, ['stored, 0 bytes written']);
      assert.equal(conn.holds, 0);
    } finally {
      await close();
    }
  });

  for (const [name, fail] of [
    ['a later commit fails while an earlier one is pending', 'later'],
    ['what is told of a commit throws', 'onSettled'],
  ] as const) {
    test(`${name}: the connection closes and nothing held is sent`, async () => {
      const { conn, peer, close } = await socketPair();
      try {
        const got: Buffer[] = [];
        peer.on('data', (c: Buffer) => got.push(c));
        conn.on('error', () => {});
        let first!: () => void;
        let second!: () => void;
        let reject!: (err: Error) => void;
        conn.hold(new Promise<void>((r) => (first = r)));
        conn.write('one');
        conn.hold(
          new Promise<void>((r, j) => {
            second = r;
            reject = j;
          }),
          () => {
            throw new Error('listener failed');
          },
        );
        conn.write('two');
        const ended = once(peer, 'close');
        if (fail === 'later') reject(new Error('disk full'));
        else second();
        await ended;
        first();
        assert.equal(await receivedAfter(got), '');
        assert.equal(conn.destroyed, true);
      } finally {
        await close();
      }
    });
  }

  test('a failed commit closes the connection and what it held is never sent', async () => {
    const { conn, peer, close } = await socketPair();
    try {
      const got: Buffer[] = [];
      peer.on('data', (c: Buffer) => got.push(c));
      conn.on('error', () => {});
      let fail!: (err: Error) => void;
      conn.hold(new Promise<void>((_, reject) => (fail = reject)));
      conn.write('puback');
      const ended = once(peer, 'close');
      fail(new Error('disk full'));
      await ended;
      assert.equal(Buffer.concat(got).toString(), '');
      assert.equal(conn.destroyed, true);
    } finally {
      await close();
    }
  });
});

interface Broker {
  broker: Aedes;
  url: string;
  port: number;
  violations: PacketViolation[];
  /** Server-side sockets, in order of arrival. */
  sockets: Socket[];
  mqtt(options?: IClientOptions): Promise<MqttClient>;
  close(): Promise<void>;
}

async function startBroker(maxPacketBytes: number): Promise<Broker> {
  const broker = await Aedes.createBroker();
  const violations: PacketViolation[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.push(socket);
    broker.handle(guardConnection(socket, { maxPacketBytes, onViolation: (info) => violations.push(info) }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `mqtt://127.0.0.1:${port}`;
  const clients: MqttClient[] = [];
  return {
    broker,
    url,
    port,
    violations,
    sockets,
    async mqtt(options = {}) {
      const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 2000, ...options });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      // Nagle on the client side would hold back small packets by tens of ms each.
      (client.stream as Socket).setNoDelay(true);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

function nextMessage(client: MqttClient, topic: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      client.off('message', onMessage);
      resolve(payload);
    };
    client.on('message', onMessage);
  });
}

/** Resolves on the first of these events; unlike events.once, an 'error' is not a rejection. */
function event(emitter: Socket | MqttClient, ...names: string[]): Promise<void> {
  const target = emitter as Socket;
  return new Promise((resolve) => {
    const done = () => {
      for (const name of names) target.off(name, done);
      resolve();
    };
    for (const name of names) target.on(name, done);
  });
}

/** Resolves when the socket closes, however it ends (a reset from the server included). */
function closed(socket: Socket): Promise<void> {
  socket.on('error', () => {});
  return socket.closed ? Promise.resolve() : event(socket, 'close');
}

const LIMIT = 64 * 1024;
const TOPIC = 'guard/t';
/** The largest payload a v3.1.1 PUBLISH to TOPIC can carry under LIMIT [MQTT-3.3.2]. */
const maxPayload = (qos: number) => LIMIT - 2 - TOPIC.length - (qos > 0 ? 2 : 0);

describe('guardConnection in front of aedes', () => {
  test('publishes of every QoS and size under the limit pass through unchanged', async () => {
    const b = await startBroker(LIMIT);
    try {
      const sub = await b.mqtt({ clientId: 'sub' });
      const pub = await b.mqtt({ clientId: 'pub' });
      await sub.subscribeAsync(TOPIC, { qos: 2 });
      for (const qos of [0, 1, 2] as const) {
        for (const size of [0, 1, 127, 128, 16_384, maxPayload(qos)]) {
          const payload = Buffer.alloc(size);
          for (let i = 0; i < size; i++) payload[i] = (i * 31 + qos) & 0xff;
          const received = nextMessage(sub, TOPIC);
          await pub.publishAsync(TOPIC, payload, { qos });
          assert.deepEqual(await received, payload, `qos ${qos}, ${size} bytes`);
        }
      }
      assert.deepEqual(b.violations, []);
      assert.ok(pub.connected && sub.connected);
    } finally {
      await b.close();
    }
  });

  test('a 200 MB CONNECT is cut off at its header, without buffering it', async () => {
    const b = await startBroker(LIMIT);
    const socket = connect(b.port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const done = closed(socket);
      const announced = 200_000_000;
      const block = Buffer.alloc(1024 * 1024, 0x41);
      const before = process.memoryUsage();
      let peak = before.arrayBuffers;
      const started = Date.now();
      socket.write(Buffer.from([0x10, ...varint(announced)]));
      // Stream up to 64 MB, honouring backpressure, until the server hangs up.
      let sent = 0;
      while (!socket.destroyed && sent < 64 * 1024 * 1024) {
        sent += block.length;
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
        if (!socket.write(block)) await event(socket, 'drain', 'close');
      }
      await done;
      const elapsed = Date.now() - started;
      const after = process.memoryUsage();
      assert.ok(sent < 64 * 1024 * 1024, `the server kept reading (${sent} bytes sent)`);
      assert.ok(elapsed < 500, `closed after ${elapsed} ms`);
      assert.deepEqual(b.violations, [
        { reason: 'too-large', remainingLength: announced, limit: LIMIT, remoteAddress: b.sockets[0]?.remoteAddress },
      ]);
      const grown = (Math.max(peak, after.arrayBuffers) - before.arrayBuffers) / 1024 / 1024;
      assert.ok(grown < 8, `buffers grew by ${grown.toFixed(1)} MB`);
      assert.ok((after.rss - before.rss) / 1024 / 1024 < 32, 'rss grew by more than 32 MB');
    } finally {
      socket.destroy();
      await b.close();
    }
  });

  test('a publish over the limit closes that connection and its will is published', async () => {
    const b = await startBroker(LIMIT);
    try {
      const watcher = await b.mqtt({ clientId: 'watcher' });
      await watcher.subscribeAsync('will/#', { qos: 1 });
      const disconnected = once(b.broker, 'clientDisconnect');
      const pub = await b.mqtt({
        clientId: 'heavy',
        will: { topic: 'will/heavy', payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      const will = nextMessage(watcher, 'will/heavy');
      pub.on('error', () => {});
      const pubClosed = event(pub, 'close');
      pub.publish(TOPIC, Buffer.alloc(maxPayload(1) + 1), { qos: 1 }, () => {});
      await pubClosed;
      assert.equal((await will).toString(), 'gone');
      assert.equal((await disconnected)[0].id, 'heavy');
      assert.equal(b.violations.length, 1);
      assert.equal(b.violations[0]?.remainingLength, LIMIT + 1);
      assert.ok(watcher.connected, 'other clients are unaffected');
    } finally {
      await b.close();
    }
  });

  test('a malformed remaining length (a fifth byte) closes the connection', async () => {
    const b = await startBroker(LIMIT);
    const socket = connect(b.port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const done = closed(socket);
      socket.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]));
      await done;
      assert.equal(b.violations.length, 1);
      assert.equal(b.violations[0]?.reason, 'malformed');
    } finally {
      socket.destroy();
      await b.close();
    }
  });

  test('an abrupt client reset still makes aedes clean up the client', async () => {
    const b = await startBroker(LIMIT);
    try {
      const client = await b.mqtt({ clientId: 'abrupt' });
      const disconnected = once(b.broker, 'clientDisconnect');
      client.stream.destroy();
      assert.equal((await disconnected)[0].id, 'abrupt');
      assert.equal(b.sockets[0]?.destroyed, true);
    } finally {
      await b.close();
    }
  });

  test('a half-close from the client ends the session; the server closes its socket', async () => {
    const b = await startBroker(LIMIT);
    const socket = connect(b.port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const done = closed(socket);
      const connack = once(socket, 'data');
      const id = Buffer.from('raw');
      // CONNECT, MQTT 3.1.1, clean session, keepalive 60 s [MQTT-3.1]
      const body = [0x00, 0x04, ...Buffer.from('MQTT'), 0x04, 0x02, 0x00, 0x3c, 0x00, id.length, ...id];
      socket.write(Buffer.from([0x10, body.length, ...body]));
      assert.deepEqual([...((await connack)[0] as Buffer)], [0x20, 0x02, 0x00, 0x00]);
      const disconnected = once(b.broker, 'clientDisconnect');
      socket.end();
      assert.equal((await disconnected)[0].id, 'raw');
      await done;
      assert.deepEqual(b.violations, []);
    } finally {
      socket.destroy();
      await b.close();
    }
  });

  test('when aedes closes a client, the socket is closed', async () => {
    const b = await startBroker(LIMIT);
    try {
      const serverSide = once(b.broker, 'client').then(([c]) => c as Client);
      const client = await b.mqtt({ clientId: 'kicked' });
      client.on('error', () => {});
      const clientClosed = event(client, 'close');
      (await serverSide).close();
      await clientClosed;
      assert.equal(b.sockets[0]?.destroyed, true);
    } finally {
      await b.close();
    }
  });
});
