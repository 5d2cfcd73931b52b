// The store contract's cases for replacement, hand-overs and post-mortems: a device retired in
// one write, hand-overs kept whole and found by either device, one post-mortem per incident. Run
// by `storeContract` for every Store implementation.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PostMortem } from '@homeostat/protocol';
import type { HandOverRecord, Store } from './store.js';

const handOver = (id: string, extra: Partial<HandOverRecord> = {}): HandOverRecord => ({
  id,
  decision: 'dec-1',
  policy: 'p',
  from: 'silent',
  to: 'peer',
  set: { setpoint: 21 },
  before: { setpoint: null },
  state: 'active',
  createdAt: 1000,
  returning: null,
  returnedAt: null,
  ...extra,
});

export function replacementContract(withStore: (fn: (s: Store) => Promise<void>) => () => Promise<void>): void {
  test(
    'devices: retired in one write (lifecycle, token, labels, replacement), the rest kept',
    withStore(async (s) => {
      const created = { uid: 'u1', tokenHash: 'h', enrollmentGroup: null, createdAt: 1 };
      await s.createDevice({ name: 'old', labels: { slot: 'x' }, desired: { a: 1 }, ...created });
      assert.equal((await s.getDevice('old'))?.replacedBy, null);
      assert.equal(await s.retireDevice('old', 'revoked', 'new'), true);
      const d = await s.getDevice('old');
      assert.equal(d?.lifecycle, 'retired');
      assert.equal(d?.tokenHash, 'revoked');
      assert.deepEqual(d?.labels, {});
      assert.equal(d?.replacedBy, 'new');
      assert.deepEqual(d?.desired.state, { a: 1 });
      assert.equal(await s.retireDevice('nobody', 'x', null), false);
    }),
  );

  test(
    'hand-overs: kept whole, replaced under their id, listed oldest first by state and by either device',
    withStore(async (s) => {
      await s.saveHandOver(handOver('h2', { createdAt: 2000, from: 'other', to: 'spare' }));
      await s.saveHandOver(handOver('h1'));
      const ids = async (q: Parameters<Store['listHandOvers']>[0]) => (await s.listHandOvers(q)).map((h) => h.id);
      assert.deepEqual(await ids({}), ['h1', 'h2']);
      assert.deepEqual(await ids({ device: 'peer' }), ['h1']);
      assert.deepEqual(await ids({ device: 'silent' }), ['h1']);
      const returned = handOver('h1', { state: 'returned', returning: 'dec-2', returnedAt: 3000 });
      await s.saveHandOver(returned);
      assert.deepEqual(await ids({ state: 'active' }), ['h2']);
      assert.deepEqual(await s.listHandOvers({ state: 'returned', device: 'peer' }), [returned]);
    }),
  );

  test(
    'post-mortems: one per incident, the last one written kept',
    withStore(async (s) => {
      const p: PostMortem = {
        apiVersion: 'homeostat/v1',
        kind: 'PostMortem',
        incident: 'inc-1',
        title: 't',
        writtenAt: 5,
        summary: 's',
        impact: { devices: ['a'], severity: 'warning', startedAt: 1, resolvedAt: 5, durationMs: 4 },
        figures: { timeToDetectMs: 1, timeToMitigateMs: null, timeToResolveMs: 4 },
        timeline: [{ at: 5, kind: 'resolution', decision: null, message: 'resolved' }],
        wentWell: [],
        wentWrong: [],
        followUps: [],
        resolution: { by: 'a person', note: 'n' },
      };
      assert.equal(await s.getPostMortem('inc-1'), undefined);
      await s.savePostMortem(p);
      await s.savePostMortem({ ...p, writtenAt: 6 });
      assert.deepEqual(await s.getPostMortem('inc-1'), { ...p, writtenAt: 6 });
    }),
  );
}
