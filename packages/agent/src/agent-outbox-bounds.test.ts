// The outbox's bounds, end to end: while the hub is unreachable and the outbox is full, the
// oldest telemetry goes first, events are kept, an OUTBOX_DROPPED alarm goes upstream once, and
// after reconnecting the twin reports exactly what was dropped.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '@homeostat/testing';
import { PRIORITY } from './outbox/outbox.js';
import { advanceUntil, harness } from './test-support.js';

interface Reported {
  version: number;
  state: {
    outbox?: {
      dropped: { total: number; byClass: Record<string, number>; byReason: Record<string, number> };
      queued: number;
    };
  };
  full?: boolean;
}

interface EventJson {
  seq: number;
  type: string;
  code?: string;
  data?: { reason?: string };
}

test('a full outbox drops the oldest telemetry, keeps events, and the twin reports the drops', async (t) => {
  const h = await harness(t);
  const proxy = await h.proxy();
  const { agent, hardware } = h.agent({ hubUrl: proxy.url, outboxMaxBytes: 3000 });
  await agent.start();
  await waitFor(() => agent.connected);
  await h.clock.advance(2000);
  await waitFor(() => h.hub.seqs('dev-1').size === 2 && agent.outboxSize === 0, { message: 'online readings' });

  proxy.cut();
  await waitFor(() => !agent.connected, { message: 'link down' });
  const early = agent.raiseEvent({ type: 'log', code: 'offline.early', message: 'queued before the outbox filled' });
  // 100 readings of ~90 bytes cannot all fit in 3000 bytes.
  for (let i = 0; i < 100; i++) await h.clock.advance(1000);
  const late = agent.raiseEvent({ type: 'alarm', code: 'offline.late' });
  assert.equal(hardware.samples, 102);
  assert.ok(agent.outboxSize < 50, `outbox holds ${agent.outboxSize}`);

  const reportedBefore = h.hub.of('dev-1', 'twin/reported').length;
  proxy.restore();
  await advanceUntil(h.clock, 1000, () => agent.connected, 'reconnects with backoff');
  await waitFor(() => agent.outboxSize === 0, { message: 'outbox drained' });

  const events = h.hub.of('dev-1', 'events').map((m) => m.json as EventJson);
  const codes = events.map((e) => e.code);
  assert.ok(codes.includes('offline.early') && codes.includes('offline.late'), `events kept: ${codes.join(', ')}`);
  const alarms = events.filter((e) => e.code === 'OUTBOX_DROPPED');
  assert.equal(alarms.length, 1, 'one alarm for the whole episode');
  assert.equal(alarms[0]?.type, 'alarm');
  assert.equal(alarms[0]?.data?.reason, 'full');
  assert.ok(events.some((e) => e.seq === early) && events.some((e) => e.seq === late));

  // What is missing is telemetry, and the oldest of it: one run right after the cut.
  const seqs = h.hub.seqs('dev-1');
  const eventSeqs = new Set(events.map((e) => e.seq));
  const lastSeq = Math.max(...seqs);
  const missing: number[] = [];
  for (let s = 1; s <= lastSeq; s++) if (!seqs.has(s)) missing.push(s);
  assert.ok(missing.length > 50, `${missing.length} readings dropped`);
  for (const s of missing) assert.ok(!eventSeqs.has(s));
  // Among readings (events interleave in seq), the dropped ones are one run: the oldest offline.
  const readingSeqs = Array.from({ length: lastSeq }, (_, i) => i + 1).filter((s) => !eventSeqs.has(s));
  const start = readingSeqs.indexOf(missing[0] ?? -1);
  assert.deepEqual(missing, readingSeqs.slice(start, start + missing.length), 'the dropped readings are contiguous');
  assert.ok(
    readingSeqs.slice(start + missing.length).every((s) => seqs.has(s)),
    'every reading newer than the dropped ones arrived',
  );

  // The full report on reconnect carries the counters.
  const reported = h.hub
    .of('dev-1', 'twin/reported')
    .slice(reportedBefore)
    .map((m) => m.json as Reported);
  const full = reported.find((r) => r.full === true);
  assert.ok(full, 'a full report after reconnecting');
  assert.deepEqual(full.state.outbox?.dropped, {
    total: missing.length,
    byClass: { [PRIORITY.telemetry]: missing.length },
    byReason: { full: missing.length, expired: 0 },
  });
  assert.equal(typeof full.state.outbox?.queued, 'number');
});

test('expired messages are dropped on the clock; drops while connected are reported at most every 10 s', async (t) => {
  const h = await harness(t);
  const proxy = await h.proxy();
  const { agent } = h.agent({
    hubUrl: proxy.url,
    dataDir: null,
    outboxMaxAgeMs: 30_000,
    outboxMaxBytes: 2000,
    sampleMs: 5000,
  });
  await agent.start();
  await waitFor(() => agent.connected);
  proxy.cut();
  await waitFor(() => !agent.connected);
  // A minute offline, one reading every 5 s: the prune each minute drops those older than 30 s.
  const offlineSince = h.clock.now();
  for (let i = 0; i < 60; i++) await h.clock.advance(1000);
  const produced = Math.floor((h.clock.now() - offlineSince) / 5000);
  assert.ok(agent.outboxSize < produced, `outbox holds ${agent.outboxSize} of ${produced}`);
  proxy.restore();
  const before = h.hub.of('dev-1', 'twin/reported').length;
  await advanceUntil(h.clock, 1000, () => agent.connected, 'reconnects');
  await waitFor(() => agent.outboxSize === 0);
  const reported = () =>
    h.hub
      .of('dev-1', 'twin/reported')
      .slice(before)
      .map((m) => m.json as Reported);
  await waitFor(() => reported().some((r) => r.full), { message: 'full report' });
  const dropped = reported().find((r) => r.full)?.state.outbox?.dropped;
  // Readings exactly 30 s old are kept: 30 s to 60 s, seven of them.
  const expired = produced - 7;
  assert.deepEqual(dropped, {
    total: expired,
    byClass: { [PRIORITY.telemetry]: expired },
    byReason: { full: 0, expired },
  });
  const alarm = h.hub.of('dev-1', 'events').find((m) => (m.json as EventJson).code === 'OUTBOX_DROPPED');
  assert.equal((alarm?.json as EventJson | undefined)?.data?.reason, 'expired');

  // Connected: events too big for the outbox are refused (counted as 'full') and the twin gets
  // patches, the first at once, the next ones merged into one 10 s later.
  const patches = () => reported().filter((r) => r.full !== true);
  const huge = { type: 'log' as const, message: 'x'.repeat(3000) };
  const refuse = () => assert.throws(() => agent.raiseEvent(huge), { code: 'ERR_OUTBOX_FULL' });
  await h.clock.advance(10_000); // the full report on connect counts as the last report
  refuse();
  await waitFor(() => patches().length === 1, { message: 'first patch at once' });
  // Merge patches: only what changed.
  assert.deepEqual(patches()[0]?.state.outbox?.dropped, {
    total: expired + 1,
    byClass: { 0: 1 },
    byReason: { full: 1 },
  });
  await h.clock.advance(1000);
  refuse();
  await h.clock.advance(1000);
  refuse();
  await h.clock.advance(7000);
  assert.equal(patches().length, 1, 'rate-limited');
  await h.clock.advance(1000);
  await waitFor(() => patches().length === 2, { message: 'the trailing patch' });
  await new Promise((resolve) => setTimeout(resolve, 100)); // nothing else was on its way
  assert.equal(patches().length, 2);
  assert.deepEqual(patches()[1]?.state.outbox?.dropped, {
    total: expired + 3,
    byClass: { 0: 3 },
    byReason: { full: 3 },
  });
});
