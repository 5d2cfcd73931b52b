// A TCP proxy in front of the hub's MQTT port that counts what devices send, on the wire: every
// byte from device to hub, MQTT framing included, split by packet kind and, for PUBLISH, by topic
// (the suffix after `homeostat/v1/{device}/`), so heartbeats can be told from telemetry. It
// follows MQTT packet boundaries (fixed header, remaining length) and reads nothing else.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Bytes and packets of one kind: `telemetry`, `events`, `heartbeat`, … or `connect`, `puback`, `ping`, …. */
export interface Count {
  bytes: number;
  packets: number;
}

/** MQTT control packet types (MQTT 3.1.1, 2.2.1), device-to-hub ones, by their number. */
const PACKET_KINDS: Record<number, string> = {
  1: 'connect',
  3: 'publish',
  4: 'puback',
  5: 'pubrec',
  6: 'pubrel',
  7: 'pubcomp',
  8: 'subscribe',
  10: 'unsubscribe',
  12: 'ping',
  14: 'disconnect',
};

/** Refines the kind of a PUBLISH from its topic kind and payload (e.g. raw or summary telemetry). */
export type Classify = (kind: string, payload: Buffer) => string;

/** Splits one connection's device-to-hub byte stream into MQTT packets and counts them. */
export class PacketCounter {
  readonly counts = new Map<string, Count>();
  readonly #classify: Classify | undefined;
  #pending: Buffer = Buffer.alloc(0);

  constructor(classify?: Classify) {
    this.#classify = classify;
  }

  feed(chunk: Buffer): void {
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    for (;;) {
      const header = fixedHeader(buf);
      if (header === null || buf.length < header.total) break;
      this.#count(this.#kind(buf.subarray(0, header.total), header.bodyAt), header.total);
      buf = buf.subarray(header.total);
    }
    // Copy the tail, so the chunk it came from can be freed.
    this.#pending = Buffer.from(buf);
  }

  #kind(packet: Buffer, bodyAt: number): string {
    const type = packet[0]! >> 4;
    if (type !== 3) return PACKET_KINDS[type] ?? `type-${type}`;
    // PUBLISH: the variable header starts with the topic, a 2-byte length then UTF-8 [MQTT-3.3.2].
    const length = packet.readUInt16BE(bodyAt);
    const topic = packet.toString('utf8', bodyAt + 2, bodyAt + 2 + length);
    const m = /^homeostat\/v1\/[^/]+\/(.+)$/.exec(topic);
    const kind = m ? m[1]! : 'other-topic';
    if (this.#classify === undefined) return kind;
    // QoS 1 and 2 carry a 2-byte packet identifier before the payload [MQTT-3.3.2.2].
    const qos = (packet[0]! >> 1) & 3;
    return this.#classify(kind, packet.subarray(bodyAt + 2 + length + (qos > 0 ? 2 : 0)));
  }

  #count(kind: string, bytes: number): void {
    const c = this.counts.get(kind);
    if (c === undefined) this.counts.set(kind, { bytes, packets: 1 });
    else {
      c.bytes += bytes;
      c.packets++;
    }
  }
}

/** A packet's total length and where its variable header starts; null until enough bytes are in. */
function fixedHeader(buf: Buffer): { total: number; bodyAt: number } | null {
  // Remaining length: 1 to 4 bytes, 7 bits each, least significant first [MQTT-2.2.3].
  let remaining = 0;
  for (let i = 1; i <= 4; i++) {
    if (buf.length <= i) return null;
    const byte = buf[i]!;
    remaining += (byte & 0x7f) * 128 ** (i - 1);
    if ((byte & 0x80) === 0) return { total: 1 + i + remaining, bodyAt: 1 + i };
  }
  throw new Error('mqtt meter: malformed remaining length');
}

export interface MqttMeter {
  url: string;
  /** Device-to-hub counts by kind, summed over every connection so far. */
  upstream(): Map<string, Count>;
  /** Hub-to-device bytes, for information. */
  downstreamBytes(): number;
  close(): Promise<void>;
}

export async function startMqttMeter(hubMqttUrl: string, classify?: Classify): Promise<MqttMeter> {
  const target = new URL(hubMqttUrl);
  const counters: PacketCounter[] = [];
  const sockets = new Set<Socket>();
  let down = 0;
  const server: Server = createServer({ noDelay: true }, (device) => {
    const hub = createConnection({ host: target.hostname, port: Number(target.port), noDelay: true });
    const counter = new PacketCounter(classify);
    counters.push(counter);
    sockets.add(device);
    sockets.add(hub);
    const teardown = () => {
      device.destroy();
      hub.destroy();
      sockets.delete(device);
      sockets.delete(hub);
    };
    for (const s of [device, hub]) {
      s.on('error', teardown);
      s.on('close', teardown);
    }
    device.on('data', (chunk: Buffer) => counter.feed(chunk));
    hub.on('data', (chunk: Buffer) => {
      down += chunk.length;
    });
    device.pipe(hub);
    hub.pipe(device);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('mqtt meter: no port');
  return {
    url: `mqtt://127.0.0.1:${address.port}`,
    upstream() {
      const total = new Map<string, Count>();
      for (const c of counters) {
        for (const [kind, n] of c.counts) {
          const t = total.get(kind) ?? { bytes: 0, packets: 0 };
          t.bytes += n.bytes;
          t.packets += n.packets;
          total.set(kind, t);
        }
      }
      return total;
    },
    downstreamBytes: () => down,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
