// Store-and-forward through the durable outbox, on a real broker behind a faulty proxy: nothing
// is lost while the hub is unreachable, nor across an agent restart, and seq keeps increasing.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '@homeostat/testing';
import { advanceUntil, harness } from './test-support.js';

/** Asserts `seqs` is exactly first..last with nothing missing. */
function assertContiguous(seqs: Set<number>, first: number, last: number): void {
  const missing: number[] = [];
  for (let s = first; s <= last; s++) if (!seqs.has(s)) missing.push(s);
  assert.deepEqual(missing, [], `missing seqs between ${first} and ${last}`);
}

test('telemetry seq is monotonic and continues after a restart on the same dataDir', async (t) => {
  const h = await harness(t);
  const first = h.agent();
  await first.agent.start();
  await waitFor(() => first.agent.connected);
  await h.clock.advance(3000);
  await waitFor(() => h.hub.seqs('dev-1').size === 3 && first.agent.outboxSize === 0);
  await first.agent.stop();

  const second = h.agent();
  await second.agent.start();
  await waitFor(() => second.agent.connected);
  second.agent.sampleNow();
  second.agent.sampleNow();
  await waitFor(() => h.hub.seqs('dev-1').size === 5);
  // After a clean stop the counter resumes exactly where it was (a crash would skip ahead).
  assert.deepEqual(
    h.hub.readings('dev-1').map((r) => r.seq),
    [1, 2, 3, 4, 5],
  );
});

test('store-and-forward: readings taken while the hub is unreachable all arrive after it is back', async (t) => {
  const h = await harness(t);
  const proxy = await h.proxy();
  const { agent, hardware } = h.agent({ hubUrl: proxy.url });
  await agent.start();
  await waitFor(() => agent.connected);
  await h.clock.advance(5000);
  await waitFor(() => h.hub.seqs('dev-1').size === 5, { message: 'readings while online' });

  proxy.cut();
  await waitFor(() => !agent.connected, { message: 'link down' });
  // Half a minute offline: sampling goes on, reconnect attempts fail and back off.
  for (let i = 0; i < 30; i++) await h.clock.advance(1000);
  assert.equal(hardware.samples, 35);
  assert.ok(agent.outboxSize >= 30, `outbox holds ${agent.outboxSize}`);
  // While offline, an alarm jumps the queue: it is the first thing sent after reconnecting.
  const alarm = agent.raiseEvent({ type: 'alarm', code: 'link.lost' });
  const before = h.hub.messages.length;

  proxy.restore();
  await advanceUntil(h.clock, 1000, () => agent.connected, 'reconnects with backoff');
  const produced = hardware.samples + 1;
  await waitFor(() => agent.outboxSize === 0, { message: 'outbox drained' });
  const seqs = h.hub.seqs('dev-1');
  assert.equal(seqs.size, produced, 'every reading and the alarm, each seq at least once');
  assertContiguous(seqs, 1, produced);
  const firstSent = h.hub.messages.slice(before).find((m) => /\/(telemetry|events)$/.test(m.topic));
  assert.ok(firstSent, 'something was sent after reconnecting');
  assert.match(firstSent.topic, /\/events$/);
  assert.equal((firstSent.json as { seq: number }).seq, alarm);
});

test('readings queued while offline survive an agent restart and are delivered after the next start', async (t) => {
  const h = await harness(t);
  const proxy = await h.proxy();
  const first = h.agent({ hubUrl: proxy.url });
  await first.agent.start();
  await waitFor(() => first.agent.connected);
  await h.clock.advance(2000);
  await waitFor(() => h.hub.seqs('dev-1').size === 2);

  proxy.cut();
  await waitFor(() => !first.agent.connected);
  for (let i = 0; i < 10; i++) await h.clock.advance(1000);
  const last = first.agent.raiseEvent({ type: 'log', message: 'going down' });
  assert.equal(last, 13);
  await first.agent.stop();
  assert.equal(h.hub.seqs('dev-1').size, 2, 'nothing was delivered while cut');

  proxy.restore();
  const second = h.agent({ hubUrl: proxy.url });
  await second.agent.start();
  assert.ok(second.agent.outboxSize >= 11, `reopened outbox holds ${second.agent.outboxSize}`);
  await waitFor(() => second.agent.connected);
  await waitFor(() => second.agent.outboxSize === 0, { message: 'drained after restart' });
  assertContiguous(h.hub.seqs('dev-1'), 1, last);
});

test('a large backlog drains completely through the in-flight window', async (t) => {
  const h = await harness(t);
  const proxy = await h.proxy();
  const { agent, hardware } = h.agent({ hubUrl: proxy.url, dataDir: null, outboxWindow: 50 });
  await agent.start();
  await waitFor(() => agent.connected);
  proxy.cut();
  await waitFor(() => !agent.connected);
  for (let i = 0; i < 2000; i++) agent.sampleNow();
  assert.equal(agent.outboxSize, 2000);
  proxy.restore();
  await advanceUntil(h.clock, 1000, () => agent.connected, 'reconnects');
  await waitFor(() => agent.outboxSize === 0, { message: 'backlog drained', timeoutMs: 10_000 });
  const seqs = h.hub.seqs('dev-1');
  assert.equal(seqs.size, hardware.samples);
  assertContiguous(seqs, 1, hardware.samples);
});
