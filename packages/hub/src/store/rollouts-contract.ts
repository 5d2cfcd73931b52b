// The store contract's rollout cases: revisions replaced atomically on the expected revision,
// per-device records upserted in batches, alarm times for the behaviour gates. Run by
// `storeContract` for every Store implementation.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rolloutDefaults, type SignedManifest } from '@homeostat/protocol';
import type { RolloutDeviceRecord, RolloutRevisionRecord } from './rollouts.js';
import type { Store } from './store.js';

const manifest = (version: string): SignedManifest => ({
  signed: {
    type: 'artifact',
    name: 'fw',
    version,
    targetModels: ['m1'],
    sha256: 'a'.repeat(64),
    size: 1,
    createdAt: 1,
    expiresAt: 2,
  },
  signatures: [{ keyId: '0123456789abcdef', sig: 'x'.repeat(86) }],
});

const revision = (n: number, version: string, extra: Partial<RolloutRevisionRecord> = {}): RolloutRevisionRecord => ({
  rollout: 'fw',
  revision: n,
  spec: rolloutDefaults({ selector: 'site=paris', artifact: { name: 'fw', version } }),
  manifest: manifest(version),
  createdAt: 1000 * n,
  phase: 'progressing',
  waveFinishedAt: null,
  halt: null,
  finishedAt: null,
  undoOf: null,
  counts: null,
  ...extra,
});

const started = (device: string, extra: Partial<RolloutDeviceRecord> = {}): RolloutDeviceRecord => ({
  device,
  wave: 0,
  startedAt: 5000,
  outcome: null,
  outcomeAt: null,
  code: null,
  rolledBack: false,
  rollbackRequestedAt: null,
  ...extra,
});

export function rolloutContract(withStore: (fn: (s: Store) => Promise<void>) => () => Promise<void>): void {
  test(
    'rollouts: created with a first revision; a new revision replaces the current one on the expected number',
    withStore(async (s) => {
      const record = {
        name: 'fw',
        uid: 'u1',
        labels: { team: 'ota' },
        createdAt: 1000,
        resourceVersion: 1,
        revision: 1,
      };
      assert.equal(await s.createRollout(record, revision(1, '1.0.0')), true);
      assert.equal(await s.createRollout({ ...record, uid: 'u2' }, revision(1, '1.0.0')), false);
      assert.deepEqual(await s.getRollout('fw'), record);
      assert.deepEqual(await s.getRolloutRevision('fw', 1), revision(1, '1.0.0'));

      assert.equal(await s.addRolloutRevision('fw', 1, revision(2, '1.1.0'), 'superseded'), true);
      assert.equal(await s.addRolloutRevision('fw', 1, revision(2, '1.2.0'), 'superseded'), false, 'stale');
      assert.equal((await s.getRollout('fw'))?.revision, 2);
      assert.deepEqual(
        (await s.listRolloutRevisions('fw')).map((r) => [r.revision, r.phase, r.finishedAt]),
        [
          [1, 'superseded', 2000],
          [2, 'progressing', null],
        ],
      );
      const halt = { at: 9, revision: 2, reason: 'r', evidence: { failed: 2, signal: 'alarms' } };
      await s.updateRolloutRevision('fw', 2, { phase: 'halted', halt, waveFinishedAt: 7 });
      const two = await s.getRolloutRevision('fw', 2);
      assert.deepEqual([two?.phase, two?.halt, two?.waveFinishedAt], ['halted', halt, 7]);
      await s.updateRolloutLabels('fw', {});
      assert.deepEqual(
        (await s.listRollouts()).map((r) => [r.name, r.labels, r.resourceVersion]),
        [['fw', {}, 3]],
      );
    }),
  );

  test(
    'rollouts: a delete removes the rollout, its revisions and device records; the name starts again at 1',
    withStore(async (s) => {
      const record = { name: 'fw', uid: 'u1', labels: {}, createdAt: 1, resourceVersion: 1, revision: 1 };
      await s.createRollout(record, revision(1, '1.0.0'));
      await s.addRolloutRevision('fw', 1, revision(2, '1.1.0'), 'superseded');
      await s.saveRolloutDevices('fw', 2, [started('d1')]);
      assert.equal(await s.deleteRollout('fw'), true);
      assert.equal(await s.deleteRollout('fw'), false);
      assert.equal(await s.getRollout('fw'), undefined);
      assert.deepEqual(await s.listRolloutRevisions('fw'), []);
      assert.deepEqual(await s.listRolloutDevices('fw', 2), []);
      assert.equal(await s.createRollout({ ...record, uid: 'u2' }, revision(1, '2.0.0')), true);
      assert.deepEqual(
        (await s.listRolloutRevisions('fw')).map((r) => r.spec.artifact.version),
        ['2.0.0'],
      );
    }),
  );

  test(
    'rollouts: per-device records of a revision are inserted and replaced in batches',
    withStore(async (s) => {
      await s.createRollout(
        { name: 'fw', uid: 'u1', labels: {}, createdAt: 1, resourceVersion: 1, revision: 1 },
        revision(1, '1.0.0'),
      );
      const many = Array.from({ length: 450 }, (_, i) => started(`d${String(i).padStart(3, '0')}`));
      await s.saveRolloutDevices('fw', 1, many);
      await s.saveRolloutDevices('fw', 1, [
        started('d001', { outcome: 'failed', outcomeAt: 6000, code: 'timeout', rolledBack: true }),
      ]);
      const rows = await s.listRolloutDevices('fw', 1);
      assert.equal(rows.length, 450);
      assert.deepEqual(
        rows[1],
        started('d001', { outcome: 'failed', outcomeAt: 6000, code: 'timeout', rolledBack: true }),
      );
      assert.deepEqual(await s.listRolloutDevices('fw', 2), []);
    }),
  );

  test(
    'rollouts: the times of device events of one type since an instant, newest first',
    withStore(async (s) => {
      const event = (device: string | null, ts: number, type = 'alarm') => ({
        ts,
        device,
        seq: device === null ? null : ts,
        source: device === null ? ('hub' as const) : ('device' as const),
        type,
        code: null,
        severity: 'warning' as const,
        message: '',
        data: {},
      });
      await s.insertEvents([event('a', 10), event('b', 20), event('a', 30, 'log'), event(null, 40), event('a', 5)]);
      assert.deepEqual(await s.deviceEventTimes('alarm', 10, 100), [
        { device: 'b', ts: 20 },
        { device: 'a', ts: 10 },
      ]);
      assert.equal((await s.deviceEventTimes('alarm', 0, 1)).length, 1);
    }),
  );
}
