// The Outbox contract suite: every implementation runs these same tests (see outbox.test.ts), so
// the in-memory outbox the simulator uses behaves like the SQLite one a device uses.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type NewOutboxEntry, type Outbox, type OutboxLimits, PRIORITY } from './outbox.js';

export interface OutboxHarness {
  /** Opens the outbox under test. A durable harness opens the same storage again after close(). */
  open(limits?: OutboxLimits): Outbox;
  /** Removes what the harness created (files). */
  cleanup?(): void | Promise<void>;
}

function entry(topic: string, priority = 1, qos: 0 | 1 = 1): NewOutboxEntry {
  return { topic, payload: JSON.stringify({ topic }), qos, priority, createdAt: 1_700_000_000_000 };
}

/** An entry of exactly `bytes` bytes (topic + payload), for the byte-bound tests. */
function sized(topic: string, priority: number, bytes: number, createdAt = 1_700_000_000_000): NewOutboxEntry {
  return { topic, payload: 'x'.repeat(bytes - topic.length), qos: 1, priority, createdAt };
}

/** The byte total recomputed from what peek() returns. */
function queuedBytes(outbox: Outbox): number {
  return outbox.peek(1_000_000).reduce((sum, e) => sum + Buffer.byteLength(e.topic) + Buffer.byteLength(e.payload), 0);
}

function assertCode(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.equal((err as { code?: unknown }).code, code);
    return true;
  };
}

export interface OutboxContractOptions {
  /** The outbox keeps entries, meta and the seq counter across close() and open(): tests that too. */
  durable?: boolean;
}

export function outboxContract(
  name: string,
  makeHarness: () => OutboxHarness | Promise<OutboxHarness>,
  options: OutboxContractOptions = {},
): void {
  async function setup(t: TestContext, limits?: OutboxLimits): Promise<{ harness: OutboxHarness; outbox: Outbox }> {
    const harness = await makeHarness();
    const outbox = harness.open(limits);
    let closed = false;
    const close = outbox.close.bind(outbox);
    outbox.close = () => {
      closed = true;
      close();
    };
    t.after(async () => {
      if (!closed) outbox.close();
      await harness.cleanup?.();
    });
    return { harness, outbox };
  }

  describe(`Outbox contract: ${name}`, () => {
    it('returns increasing ids and keeps every field', async (t) => {
      const { outbox } = await setup(t);
      const a = outbox.enqueue(entry('a'));
      const b = outbox.enqueue({ ...entry('b', 0, 0), createdAt: 42 });
      assert.ok(b > a);
      assert.equal(outbox.size(), 2);
      assert.deepEqual(outbox.peek(10), [
        { id: b, topic: 'b', payload: '{"topic":"b"}', qos: 0, priority: 0, createdAt: 42 },
        { id: a, topic: 'a', payload: '{"topic":"a"}', qos: 1, priority: 1, createdAt: 1_700_000_000_000 },
      ]);
    });

    it('peeks by priority, then in enqueue order, up to the limit', async (t) => {
      const { outbox } = await setup(t);
      outbox.enqueue(entry('t1', 1));
      outbox.enqueue(entry('e1', 0));
      outbox.enqueue(entry('t2', 1));
      outbox.enqueue(entry('x1', 5));
      outbox.enqueue(entry('e2', 0));
      assert.deepEqual(
        outbox.peek(10).map((e) => e.topic),
        ['e1', 'e2', 't1', 't2', 'x1'],
      );
      assert.deepEqual(
        outbox.peek(3).map((e) => e.topic),
        ['e1', 'e2', 't1'],
      );
      assert.deepEqual(outbox.peek(0), []);
      // Peeking does not remove.
      assert.equal(outbox.size(), 5);
    });

    it('skips excluded ids and still fills the limit', async (t) => {
      const { outbox } = await setup(t);
      const ids = ['a', 'b', 'c', 'd', 'e'].map((topic) => outbox.enqueue(entry(topic)));
      const inFlight = new Set([ids[0]!, ids[1]!]);
      assert.deepEqual(
        outbox.peek(2, inFlight).map((e) => e.topic),
        ['c', 'd'],
      );
      assert.deepEqual(
        outbox.peek(10, new Set(ids)).map((e) => e.topic),
        [],
      );
    });

    it('removes acknowledged entries; a repeated or unknown ack is ignored', async (t) => {
      const { outbox } = await setup(t);
      const a = outbox.enqueue(entry('a'));
      const b = outbox.enqueue(entry('b'));
      outbox.ack(a);
      outbox.ack(a);
      outbox.ack(b + 1000);
      assert.equal(outbox.size(), 1);
      assert.deepEqual(
        outbox.peek(10).map((e) => e.id),
        [b],
      );
      // Ids are never reused: a late ack of `a` can never remove a newer entry.
      const c = outbox.enqueue(entry('c'));
      assert.ok(c > b);
      outbox.ack(b);
      outbox.ack(c);
      assert.equal(outbox.size(), 0);
      assert.ok(outbox.enqueue(entry('d')) > c);
    });

    it('hands out a strictly increasing seq', async (t) => {
      const { outbox } = await setup(t);
      const seqs = Array.from({ length: 1500 }, () => outbox.nextSeq());
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `seq ${seqs[i]} after ${seqs[i - 1]}`);
      assert.ok(seqs[0]! >= 0);
    });

    it('stores meta values', async (t) => {
      const { outbox } = await setup(t);
      assert.equal(outbox.getMeta('k'), undefined);
      outbox.setMeta('k', 'one');
      outbox.setMeta('k', 'two');
      outbox.setMeta('other', '{"a":1}');
      assert.equal(outbox.getMeta('k'), 'two');
      assert.equal(outbox.getMeta('other'), '{"a":1}');
    });

    it('commits a transaction as a whole, and nests', async (t) => {
      const { outbox } = await setup(t);
      const result = outbox.transaction(() => {
        const seq = outbox.nextSeq();
        outbox.enqueue(entry(`seq-${seq}`));
        outbox.transaction(() => outbox.setMeta('k', 'v'));
        return seq;
      });
      assert.equal(outbox.size(), 1);
      assert.equal(outbox.peek(1)[0]?.topic, `seq-${result}`);
      assert.equal(outbox.getMeta('k'), 'v');
    });

    it('rolls a throwing transaction back entirely', async (t) => {
      const { outbox } = await setup(t);
      const kept = outbox.enqueue(entry('kept'));
      outbox.setMeta('k', 'before');
      const before = outbox.nextSeq();
      assert.throws(
        () =>
          outbox.transaction(() => {
            outbox.nextSeq();
            outbox.enqueue(entry('lost'));
            outbox.ack(kept);
            outbox.setMeta('k', 'after');
            outbox.setMeta('new', 'x');
            throw new Error('boom');
          }),
        /boom/,
      );
      assert.equal(outbox.size(), 1);
      assert.deepEqual(
        outbox.peek(10).map((e) => e.topic),
        ['kept'],
      );
      assert.equal(outbox.getMeta('k'), 'before');
      assert.equal(outbox.getMeta('new'), undefined);
      assert.ok(outbox.nextSeq() > before);
      // The outbox still works after a rollback.
      outbox.enqueue(entry('next'));
      assert.equal(outbox.size(), 2);
    });

    it('has default bounds of 64 MiB and 7 days', async (t) => {
      const { outbox } = await setup(t);
      assert.deepEqual(outbox.limits, { maxBytes: 64 * 1024 * 1024, maxAgeMs: 7 * 24 * 60 * 60 * 1000 });
      assert.deepEqual(outbox.dropped(), { total: 0, byClass: {}, byReason: { full: 0, expired: 0 } });
    });

    it('when full, drops the oldest of the least important class first, then the next class', async (t) => {
      const { outbox } = await setup(t, { maxBytes: 500 });
      outbox.enqueue(sized('t1', PRIORITY.telemetry, 100));
      outbox.enqueue(sized('e1', PRIORITY.urgent, 100));
      outbox.enqueue(sized('t2', PRIORITY.telemetry, 100));
      outbox.enqueue(sized('x1', 5, 100));
      outbox.enqueue(sized('e2', PRIORITY.urgent, 100));
      assert.equal(outbox.bytes(), 500);
      assert.equal(outbox.dropped().total, 0, 'exactly maxBytes fits');

      outbox.enqueue(sized('e3', PRIORITY.urgent, 100));
      assert.deepEqual(
        outbox.peek(10).map((e) => e.topic),
        ['e1', 'e2', 'e3', 't1', 't2'],
        'the least important class goes first',
      );
      // 250 bytes more: both readings, oldest first, then the oldest event.
      outbox.enqueue(sized('e4', PRIORITY.urgent, 250));
      assert.deepEqual(
        outbox.peek(10).map((e) => e.topic),
        ['e2', 'e3', 'e4'],
      );
      assert.equal(outbox.bytes(), 450);
      assert.deepEqual(outbox.dropped(), {
        total: 4,
        byClass: { [PRIORITY.urgent]: 1, [PRIORITY.telemetry]: 2, 5: 1 },
        byReason: { full: 4, expired: 0 },
      });

      // A reading never evicts an event: it is refused, and counted.
      assert.throws(() => outbox.enqueue(sized('t3', PRIORITY.telemetry, 100)), assertCode('ERR_OUTBOX_FULL'));
      assert.deepEqual(
        outbox.peek(10).map((e) => e.topic),
        ['e2', 'e3', 'e4'],
      );
      assert.deepEqual(outbox.dropped(), {
        total: 5,
        byClass: { [PRIORITY.urgent]: 1, [PRIORITY.telemetry]: 3, 5: 1 },
        byReason: { full: 5, expired: 0 },
      });
      // Within its own class, the newest reading replaces the oldest.
      outbox.enqueue(sized('t4', PRIORITY.telemetry, 50));
      outbox.enqueue(sized('t5', PRIORITY.telemetry, 50));
      assert.deepEqual(
        outbox.peek(10).map((e) => e.topic),
        ['e2', 'e3', 'e4', 't5'],
      );
      assert.equal(outbox.bytes(), 500);
    });

    it('refuses an entry larger than maxBytes without dropping anything, and counts it', async (t) => {
      const { outbox } = await setup(t, { maxBytes: 500 });
      outbox.enqueue(sized('t1', PRIORITY.telemetry, 100));
      assert.throws(() => outbox.enqueue(sized('big', PRIORITY.urgent, 501)), assertCode('ERR_OUTBOX_FULL'));
      // Refused inside a transaction: the transaction rolls back, the refusal stays counted.
      assert.throws(
        () =>
          outbox.transaction(() => {
            outbox.nextSeq();
            outbox.enqueue(sized('big', PRIORITY.urgent, 600));
          }),
        assertCode('ERR_OUTBOX_FULL'),
      );
      assert.deepEqual(
        outbox.peek(10).map((e) => e.topic),
        ['t1'],
      );
      assert.equal(outbox.bytes(), 100);
      assert.deepEqual(outbox.dropped(), { total: 2, byClass: { 0: 2 }, byReason: { full: 2, expired: 0 } });
    });

    it('drops entries older than maxAgeMs, any class', async (t) => {
      const { outbox } = await setup(t, { maxAgeMs: 1000 });
      outbox.enqueue(sized('t1', PRIORITY.telemetry, 10, 0));
      outbox.enqueue(sized('e1', PRIORITY.urgent, 10, 500));
      outbox.enqueue(sized('t2', PRIORITY.telemetry, 10, 1000));
      outbox.enqueue(sized('e2', PRIORITY.urgent, 10, 1999));
      assert.equal(outbox.pruneExpired(1000), 0, 'exactly maxAgeMs old is not expired');
      assert.equal(outbox.pruneExpired(2000), 2);
      assert.deepEqual(
        outbox.peek(10).map((e) => e.topic),
        ['e2', 't2'],
      );
      assert.equal(outbox.bytes(), 20);
      assert.deepEqual(outbox.dropped(), {
        total: 2,
        byClass: { [PRIORITY.urgent]: 1, [PRIORITY.telemetry]: 1 },
        byReason: { full: 0, expired: 2 },
      });
      assert.equal(outbox.pruneExpired(2000), 0);
      assert.equal(outbox.pruneExpired(10_000), 2);
      assert.equal(outbox.size(), 0);
      assert.equal(outbox.bytes(), 0);
    });

    it('keeps the byte total right through acks, drops, late acks and rollbacks', async (t) => {
      const { outbox } = await setup(t, { maxBytes: 1000 });
      const ids: number[] = [];
      for (let i = 0; i < 30; i++) {
        const topic = `dev/${i % 2 === 0 ? 'telemetry' : 'events'}/é${i}`; // multi-byte UTF-8
        const payload = JSON.stringify({ i, note: 'ü'.repeat(i) });
        ids.push(outbox.enqueue({ topic, payload, qos: 1, priority: i % 2 === 0 ? 1 : 0, createdAt: i }));
        assert.equal(outbox.bytes(), queuedBytes(outbox), `after enqueue ${i}`);
        if (i % 3 === 0) outbox.ack(ids[i - 1] ?? -1);
        assert.equal(outbox.bytes(), queuedBytes(outbox), `after ack ${i}`);
      }
      assert.ok(outbox.dropped().total > 0, 'some were dropped for room');
      // The drained entries' acks arrive late (dropped while in flight): harmless.
      for (const id of ids.slice(0, 10)) outbox.ack(id);
      assert.equal(outbox.bytes(), queuedBytes(outbox));
      const size = outbox.size();
      const bytes = outbox.bytes();
      const dropped = outbox.dropped();
      assert.throws(() =>
        outbox.transaction(() => {
          outbox.enqueue(sized('big', PRIORITY.urgent, 900));
          outbox.ack(ids.at(-1) ?? -1);
          throw new Error('boom');
        }),
      );
      assert.equal(outbox.size(), size);
      assert.equal(outbox.bytes(), bytes);
      assert.deepEqual(outbox.dropped(), dropped, 'rolled-back drops are not counted');
      assert.equal(outbox.pruneExpired(1_000_000_000), size);
      assert.equal(outbox.bytes(), 0);
    });

    if (!options.durable) return;
    it('keeps the dropped counters and the byte total across close and open', async (t) => {
      const { harness, outbox } = await setup(t, { maxBytes: 300, maxAgeMs: 1000 });
      outbox.enqueue(sized('t1', PRIORITY.telemetry, 100, 0));
      outbox.enqueue(sized('e1', PRIORITY.urgent, 100, 100));
      outbox.enqueue(sized('t2', PRIORITY.telemetry, 100, 5000));
      outbox.enqueue(sized('t3', PRIORITY.telemetry, 100, 5000));
      assert.throws(() => outbox.enqueue(sized('big', PRIORITY.urgent, 400)));
      outbox.enqueue(sized('e2', PRIORITY.urgent, 50, 5000));
      assert.equal(outbox.pruneExpired(5500), 1);
      const dropped = outbox.dropped();
      assert.deepEqual(dropped, {
        total: 4,
        byClass: { [PRIORITY.urgent]: 2, [PRIORITY.telemetry]: 2 },
        byReason: { full: 3, expired: 1 },
      });
      outbox.close();

      const again = harness.open({ maxBytes: 300, maxAgeMs: 1000 });
      t.after(() => again.close());
      assert.deepEqual(again.dropped(), dropped);
      assert.equal(again.bytes(), 150);
      assert.deepEqual(
        again.peek(10).map((e) => e.topic),
        ['e2', 't3'],
      );
      again.enqueue(sized('t4', PRIORITY.telemetry, 200, 5000));
      assert.deepEqual(
        again.peek(10).map((e) => e.topic),
        ['e2', 't4'],
      );
      assert.equal(again.dropped().total, 5);
    });

    it('keeps entries, meta and the seq counter across close and open', async (t) => {
      const { harness, outbox } = await setup(t);
      const a = outbox.enqueue(entry('a', 1));
      const b = outbox.enqueue(entry('b', 0));
      outbox.enqueue(entry('c', 1));
      outbox.ack(a);
      outbox.setMeta('twin', '{"v":3}');
      let last = 0;
      for (let i = 0; i < 10; i++) last = outbox.nextSeq();
      outbox.close();

      const again = harness.open();
      t.after(() => again.close());
      assert.equal(again.size(), 2);
      assert.deepEqual(
        again.peek(10).map((e) => e.topic),
        ['b', 'c'],
      );
      assert.equal(again.peek(1)[0]?.id, b);
      assert.equal(again.getMeta('twin'), '{"v":3}');
      assert.ok(again.nextSeq() > last);
      assert.ok(again.enqueue(entry('d')) > b);
    });
  });
}
