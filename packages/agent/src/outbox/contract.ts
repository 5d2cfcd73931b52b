// The Outbox contract suite: every implementation runs these same tests (see outbox.test.ts), so
// the in-memory outbox the simulator uses behaves like the SQLite one a device uses.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { NewOutboxEntry, Outbox } from './outbox.js';

export interface OutboxHarness {
  /** Opens the outbox under test. A durable harness opens the same storage again after close(). */
  open(): Outbox;
  /** Removes what the harness created (files). */
  cleanup?(): void | Promise<void>;
}

function entry(topic: string, priority = 1, qos: 0 | 1 = 1): NewOutboxEntry {
  return { topic, payload: JSON.stringify({ topic }), qos, priority, createdAt: 1_700_000_000_000 };
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
  async function setup(t: TestContext): Promise<{ harness: OutboxHarness; outbox: Outbox }> {
    const harness = await makeHarness();
    const outbox = harness.open();
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

    if (!options.durable) return;
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
