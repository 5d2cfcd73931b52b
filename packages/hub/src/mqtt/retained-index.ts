// Retained messages indexed by device. aedes' in-memory persistence matches each new
// subscription against every retained message, so a fleet connecting costs O(devices²); here a
// subscription under one device's subtree looks at that device's retained messages only.

import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { AedesMemoryPersistence } from 'aedes-persistence';

// aedes-persistence is CommonJS whose module.exports is the factory; its typings say otherwise.
const memory = createRequire(import.meta.url)('aedes-persistence') as () => AedesMemoryPersistence;

/** What the index reads of a retained packet. */
interface Packet {
  topic: string;
  payload: Buffer | string;
}

/** The bucket of a topic or filter: its first three levels (`homeostat/v1/{device}`), or null. */
function bucketOf(topic: string): string | null {
  const parts = topic.split('/', 4);
  if (parts.length < 3) return null;
  const head = parts.slice(0, 3);
  return head.some((p) => p === '+' || p === '#') ? null : head.join('/');
}

/** MQTT topic filter matching [MQTT-4.7]: `+` one level, `#` the rest (and the parent level). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with `$`.
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The default in-memory persistence, with its retained-message store replaced by an index. */
export function indexedMemoryPersistence() {
  const base = memory();
  const buckets = new Map<string, Map<string, Packet>>();
  const loose = new Map<string, Packet>();

  const store = (packet: Packet) => {
    const bucket = bucketOf(packet.topic);
    const map = bucket === null ? loose : (buckets.get(bucket) ?? new Map<string, Packet>());
    if (packet.payload.length === 0) {
      map.delete(packet.topic);
      if (bucket !== null && map.size === 0) buckets.delete(bucket);
    } else {
      map.set(packet.topic, { ...packet });
      if (bucket !== null) buckets.set(bucket, map);
    }
  };

  function* matching(filter: string): Generator<Packet> {
    const bucket = bucketOf(filter);
    const candidates = bucket === null ? [loose, ...buckets.values()] : [buckets.get(bucket) ?? new Map(), loose];
    for (const map of candidates) {
      for (const [topic, packet] of map) if (topicMatches(filter, topic)) yield packet;
    }
  }

  base.storeRetained = ((packet: Packet, cb?: (err: Error | null) => void) => {
    store(packet);
    if (cb) {
      cb(null);
      return;
    }
    return Promise.resolve();
  }) as unknown as typeof base.storeRetained;
  base.createRetainedStream = ((pattern: string) =>
    Readable.from(matching(pattern))) as typeof base.createRetainedStream;
  base.createRetainedStreamCombi = ((patterns: string[]) =>
    Readable.from(
      (function* () {
        for (const p of patterns) yield* matching(p);
      })(),
    )) as typeof base.createRetainedStreamCombi;
  return base;
}
