import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexedMemoryPersistence, topicMatches } from './retained-index.js';

test('topic filters match as MQTT says', () => {
  assert.equal(topicMatches('a/b/c', 'a/b/c'), true);
  assert.equal(topicMatches('a/+/c', 'a/b/c'), true);
  assert.equal(topicMatches('a/#', 'a/b/c'), true);
  assert.equal(topicMatches('a/#', 'a'), true, 'the parent level too [MQTT-4.7.1-2]');
  assert.equal(topicMatches('a/+', 'a/b/c'), false);
  assert.equal(topicMatches('a/b/c/d', 'a/b/c'), false);
  assert.equal(topicMatches('#', '$SYS/x'), false, '[MQTT-4.7.2-1]');
  assert.equal(topicMatches('+/x', '$SYS/x'), false);
  assert.equal(topicMatches('$SYS/#', '$SYS/x'), true);
});

async function collect(stream: NodeJS.ReadableStream): Promise<string[]> {
  const topics: string[] = [];
  for await (const p of stream as AsyncIterable<{ topic: string }>) topics.push(p.topic);
  return topics.sort();
}

test('retained messages are found by exact topic, by filter within a device, and across devices', async () => {
  const p = indexedMemoryPersistence();
  const store = p.storeRetained as unknown as (packet: object) => Promise<void>;
  const put = (topic: string, payload: string) =>
    store({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: true, dup: false });
  await put('homeostat/v1/a/twin/desired', '{"version":1}');
  await put('homeostat/v1/a/status', '{"online":true}');
  await put('homeostat/v1/b/twin/desired', '{"version":2}');
  await put('other', 'x');
  assert.deepEqual(await collect(p.createRetainedStream('homeostat/v1/a/twin/desired')), [
    'homeostat/v1/a/twin/desired',
  ]);
  assert.deepEqual(await collect(p.createRetainedStream('homeostat/v1/a/#')), [
    'homeostat/v1/a/status',
    'homeostat/v1/a/twin/desired',
  ]);
  assert.deepEqual(await collect(p.createRetainedStream('homeostat/v1/+/twin/desired')), [
    'homeostat/v1/a/twin/desired',
    'homeostat/v1/b/twin/desired',
  ]);
  assert.deepEqual(await collect(p.createRetainedStream('#')), [
    'homeostat/v1/a/status',
    'homeostat/v1/a/twin/desired',
    'homeostat/v1/b/twin/desired',
    'other',
  ]);
  await put('homeostat/v1/a/status', ''); // an empty retained payload deletes it
  assert.deepEqual(await collect(p.createRetainedStreamCombi(['homeostat/v1/a/status', 'other'])), ['other']);
});
