// The store contract suite: every Store implementation runs these same tests.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Decision, Incident } from '@homeostat/protocol';
import { replacementContract } from './replacement-contract.js';
import { rolloutContract } from './rollouts-contract.js';
import type { DeploymentRecord, NewDevice, Reading, Store } from './store.js';

const device = (name: string, extra: Partial<NewDevice> = {}): NewDevice => ({
  name,
  uid: `uid-${name}`,
  labels: { site: 'paris' },
  tokenHash: `hash-${name}`,
  enrollmentGroup: null,
  desired: {},
  createdAt: 1000,
  ...extra,
});

const deployment = (name: string, extra: Partial<DeploymentRecord> = {}): DeploymentRecord => ({
  name,
  uid: `uid-${name}`,
  labels: {},
  selector: 'site=paris',
  priority: 0,
  modules: [{ name: 'hvac', kind: 'process', config: { command: 'hvacd', args: ['--fast'] } }],
  createdAt: 1000,
  resourceVersion: 1,
  generation: 1,
  observedGeneration: 0,
  ...extra,
});

const decision = (id: string, extra: Partial<Decision> = {}): Decision => ({
  apiVersion: 'homeostat/v1',
  kind: 'Decision',
  id,
  policy: 'p',
  property: 'self-protection',
  devices: ['a'],
  createdAt: 1000,
  updatedAt: 1000,
  trigger: { kind: 'security', device: 'a', at: 1000, summary: 's', evidence: { count: 20 } },
  analysis: { symptom: 'credential-attack', summary: 's' },
  degree: 'approve',
  degreeSource: 'default',
  state: 'awaiting-approval',
  approval: { deadline: 2000, default: 'reject', by: null, at: null, reason: null },
  hold: null,
  actions: [],
  verification: null,
  incident: null,
  history: [{ at: 1000, state: 'awaiting-approval', note: 'n' }],
  explanation: 'e',
  ...extra,
});

const incident = (id: string, extra: Partial<Incident> = {}): Incident => ({
  apiVersion: 'homeostat/v1',
  kind: 'Incident',
  id,
  type: 'incident',
  title: 't',
  symptom: 's',
  severity: 'warning',
  state: 'open',
  devices: ['a'],
  decisions: [],
  openedAt: 1000,
  updatedAt: 1000,
  resolvedAt: null,
  timeline: [],
  history: null,
  ...extra,
});

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    const withStore = (fn: (s: Store) => Promise<void>) => async () => {
      const s = await open();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    };

    test(
      'api tokens: create once, find by hash, list, delete',
      withStore(async (s) => {
        assert.equal(await s.countApiTokens(), 0);
        assert.equal(await s.createApiToken({ name: 'admin', role: 'admin', tokenHash: 'h1', createdAt: 1 }), true);
        assert.equal(await s.createApiToken({ name: 'admin', role: 'viewer', tokenHash: 'h2', createdAt: 1 }), false);
        assert.equal((await s.findApiTokenByHash('h1'))?.role, 'admin');
        assert.equal(await s.findApiTokenByHash('nope'), undefined);
        assert.deepEqual(
          (await s.listApiTokens()).map((t) => t.name),
          ['admin'],
        );
        assert.equal(await s.deleteApiToken('admin'), true);
        assert.equal(await s.countApiTokens(), 0);
      }),
    );

    test(
      'devices: create, refuse a duplicate name, list in name order, relabel, delete',
      withStore(async (s) => {
        assert.equal(await s.createDevice(device('b')), true);
        assert.equal(await s.createDevice(device('a', { desired: { setpoint: 20 } })), true);
        assert.equal(await s.createDevice(device('a', { uid: 'other' })), false);
        const a = await s.getDevice('a');
        assert.equal(a?.lifecycle, 'provisioned');
        assert.deepEqual(a?.desired, { version: 1, state: { setpoint: 20 }, updatedAt: 1000 });
        assert.equal((await s.getDevice('b'))?.desired.version, 0);
        assert.deepEqual(
          (await s.listDevices()).map((d) => d.name),
          ['a', 'b'],
        );
        const relabelled = await s.updateDeviceLabels('a', { site: 'lyon' });
        assert.deepEqual(relabelled?.labels, { site: 'lyon' });
        assert.ok((relabelled?.resourceVersion ?? 0) > (a?.resourceVersion ?? 0));
        assert.equal(await s.countDevices(), 2);
        assert.equal(await s.deleteDevice('a'), true);
        assert.equal(await s.deleteDevice('a'), false);
        assert.equal(await s.getDevice('a'), undefined);
      }),
    );

    test(
      'desired state: optimistic concurrency on the version',
      withStore(async (s) => {
        await s.createDevice(device('d'));
        const first = await s.replaceDesired('d', 0, { setpoint: 21 }, 2000);
        assert.equal(first.ok, true);
        const stale = await s.replaceDesired('d', 0, { setpoint: 5 }, 2001);
        assert.deepEqual(stale, { ok: false, reason: 'conflict', current: 1 });
        assert.deepEqual((await s.getDevice('d'))?.desired, { version: 1, state: { setpoint: 21 }, updatedAt: 2000 });
        assert.deepEqual(await s.replaceDesired('nope', 0, {}, 1), { ok: false, reason: 'not-found' });
      }),
    );

    test(
      'reported state: merge patches in version order, stale ones refused',
      withStore(async (s) => {
        await s.createDevice(device('r'));
        assert.deepEqual(await s.applyReported('r', 1, { a: 1, b: { c: 2 } }, 0, 10), { ok: true });
        assert.deepEqual(await s.applyReported('r', 2, { b: { c: null, d: 3 } }, null, 11), { ok: true });
        assert.deepEqual(await s.applyReported('r', 2, { a: 9 }, 1, 12), { ok: false, reason: 'stale', current: 2 });
        const r = await s.getDevice('r');
        assert.deepEqual(r?.reported, { version: 2, state: { a: 1, b: { d: 3 } }, desiredVersion: 0, updatedAt: 11 });
        assert.equal((await s.applyReported('nope', 1, {}, null, 1)).ok, false);
        // A whole state replaces: keys the device no longer has are gone, and so is the applied version.
        assert.deepEqual(await s.applyReported('r', 3, { z: 1 }, null, 13, true), { ok: true });
        assert.deepEqual((await s.getDevice('r'))?.reported, {
          version: 3,
          state: { z: 1 },
          desiredVersion: null,
          updatedAt: 13,
        });
      }),
    );

    test(
      'status and liveness are saved',
      withStore(async (s) => {
        await s.createDevice(device('l'));
        await s.updateDeviceStatus('l', { capabilities: { kind: 'pump' }, agentVersion: '1.0', activate: true });
        await s.saveLiveness([
          {
            name: 'l',
            lastSeen: 50,
            liveness: { state: 'online', since: 40, evidence: { kind: 'heartbeat', at: 50, detail: 'x' } },
          },
        ]);
        const l = await s.getDevice('l');
        assert.equal(l?.lifecycle, 'active');
        assert.deepEqual(l?.capabilities, { kind: 'pump' });
        assert.equal(l?.lastSeen, 50);
        assert.equal(l?.liveness?.state, 'online');
      }),
    );

    test(
      'readings: stored once per (device, seq), queried by metric and time',
      withStore(async (s) => {
        const rows: Reading[] = [
          { device: 'x', seq: 1, ts: 100, metrics: { temperature: 20.5, humidity: 40 } },
          { device: 'x', seq: 2, ts: 200, metrics: { temperature: 21 } },
          { device: 'y', seq: 1, ts: 150, metrics: { temperature: 5 } },
        ];
        assert.deepEqual(await s.insertReadings(rows), { inserted: 3, existing: [] });
        // A stored (device, seq) is a whole reading: not stored again whatever it carries, and
        // reported with the reading stored under it.
        const again = await s.insertReadings([
          { ...rows[0]!, metrics: { temperature: 99, pressure: 1 } },
          { device: 'x', seq: 3, ts: 300, metrics: { humidity: 41 } },
          rows[1]!,
        ]);
        assert.deepEqual(again, {
          inserted: 1,
          existing: [
            { index: 0, stored: rows[0] },
            { index: 2, stored: rows[1] },
          ],
        });
        // Twice in one write: the first is stored.
        const first = { device: 'w', seq: 7, ts: 1, metrics: { a: 1 } };
        assert.deepEqual(await s.insertReadings([first, { ...first, ts: 2 }]), {
          inserted: 1,
          existing: [{ index: 1, stored: first }],
        });
        assert.deepEqual(await s.queryReadings('x', 'pressure', 0, 1000, 10), []);
        // A metric name that every object has as an inherited property is still a metric name.
        assert.deepEqual(await s.queryReadings('x', 'toString', 0, 1000, 10), []);
        assert.deepEqual(await s.queryBuckets(['x'], 'constructor', 0, 1000, 100), []);
        const points = async (metric: string, from: number, to: number, limit: number) =>
          (await s.queryReadings('x', metric, from, to, limit)).map((p) => [p.seq, p.ts, p.value]);
        assert.deepEqual(await points('temperature', 0, 1000, 10), [
          [1, 100, 20.5],
          [2, 200, 21],
        ]);
        assert.deepEqual(await points('humidity', 0, 1000, 10), [
          [1, 100, 40],
          [3, 300, 41],
        ]);
        assert.deepEqual(await points('temperature', 150, 1000, 10), [[2, 200, 21]]);
        assert.deepEqual(await points('temperature', 0, 1000, 1), [[2, 200, 21]]);
        // Many readings, two per millisecond, a rare metric in a few: the newest `limit` points of
        // a metric, in (ts, seq) order, however many readings without it lie in between.
        const many = Array.from(
          { length: 2500 },
          (_, i): Reading => ({
            device: 'z',
            seq: i,
            ts: Math.floor(i / 2),
            metrics: i % 1000 === 1 ? { m: i, rare: i } : { m: i },
          }),
        );
        assert.equal((await s.insertReadings(many)).inserted, 2500);
        const z = async (metric: string, limit: number) =>
          (await s.queryReadings('z', metric, 0, 10_000, limit)).map((p) => p.seq);
        assert.deepEqual(await z('m', 3), [2497, 2498, 2499]);
        assert.deepEqual(await z('rare', 10), [1, 1001, 2001]);
        assert.deepEqual(await z('rare', 2), [1001, 2001]);
        assert.equal((await z('m', 5000)).length, 2500);
      }),
    );

    test(
      'readings: out of order across writes, times that overlap between writes, long spans in one write',
      withStore(async (s) => {
        const r = (seq: number, ts: number, v = seq): Reading => ({ device: 'o', seq, ts, metrics: { m: v } });
        // Seqs 10 to 19 first, then 0 to 9 (an outbox draining an older class later).
        assert.equal((await s.insertReadings(Array.from({ length: 10 }, (_, i) => r(10 + i, 1000 + i)))).inserted, 10);
        assert.equal((await s.insertReadings(Array.from({ length: 10 }, (_, i) => r(i, 500 + i)))).inserted, 10);
        // Redeliveries of both, among new seqs, each reported with the reading stored under it.
        const again = await s.insertReadings([r(20, 2000), r(5, 505, 99), r(15, 1005), r(21, 2001)]);
        assert.deepEqual(again, {
          inserted: 2,
          existing: [
            { index: 1, stored: r(5, 505) },
            { index: 2, stored: r(15, 1005) },
          ],
        });
        // A reading far older than the rest of its write: its time lies inside an earlier write's.
        await s.insertReadings([r(22, 1003, 22), r(23, 3000)]);
        const newest = async (from: number, to: number, limit: number) =>
          (await s.queryReadings('o', 'm', from, to, limit)).map((p) => [p.seq, p.ts]);
        // The newest three by (ts, seq): the overlapping write's reading is among them.
        assert.deepEqual(await newest(1002, 1005, 3), [
          [22, 1003],
          [14, 1004],
          [15, 1005],
        ]);
        assert.deepEqual(await newest(1002, 1005, 10), [
          [12, 1002],
          [13, 1003],
          [22, 1003],
          [14, 1004],
          [15, 1005],
        ]);
        assert.equal((await s.queryReadings('o', 'm', 0, 10_000, 100)).length, 24);
        // One write spanning a day, a reading an hour: each found by time, by raw buckets too.
        const day = Array.from({ length: 25 }, (_, h) => ({
          device: 'p',
          seq: h,
          ts: h * 3_600_000,
          metrics: { m: h },
        }));
        assert.equal((await s.insertReadings(day)).inserted, 25);
        assert.deepEqual(
          (await s.queryReadings('p', 'm', 5 * 3_600_000, 7 * 3_600_000, 10)).map((p) => p.value),
          [5, 6, 7],
        );
        const buckets = await s.queryBuckets(['p'], 'm', 12 * 3_600_000 - 1, 12 * 3_600_000 + 1, 1000);
        assert.deepEqual(
          buckets.map((b) => [b.count, b.last]),
          [[1, 12]],
        );
        assert.deepEqual((await s.insertReadings([day[12]!])).existing, [{ index: 0, stored: day[12] }]);
      }),
    );

    test(
      'readings: the newest points of hundreds of writes, in pages, times going back and forth',
      withStore(async (s) => {
        // 300 writes of one reading; every third one is stamped 5 s earlier than the one before.
        const all: Reading[] = [];
        for (let seq = 0; seq < 300; seq++) {
          const ts = 1_000_000 + seq * 1000 - (seq % 3 === 2 ? 5500 : 0);
          all.push({ device: 'g', seq, ts, metrics: { m: seq } });
          await s.insertReadings([all[seq]!]);
        }
        const expected = (from: number, to: number, limit: number) =>
          all
            .filter((r) => r.ts >= from && r.ts <= to)
            .sort((a, b) => a.ts - b.ts || a.seq - b.seq)
            .slice(-limit)
            .map((r) => r.seq);
        for (const [from, to, limit] of [
          [0, 2e6, 5],
          [0, 2e6, 1000],
          [1_050_000, 1_120_000, 7],
          [1_200_000, 1_200_000 + 40_000, 100],
        ] as const) {
          assert.deepEqual(
            (await s.queryReadings('g', 'm', from, to, limit)).map((p) => p.seq),
            expected(from, to, limit),
            `from ${from} to ${to}, limit ${limit}`,
          );
        }
      }),
    );

    test(
      'rollups: kept per minute and hour as readings arrive, redeliveries not counted twice',
      withStore(async (s) => {
        const t0 = 1_800_000_000_000 - (1_800_000_000_000 % 3_600_000); // an hour boundary
        const rows = [0, 10_000, 70_000, 130_000].map((dt, i) => ({
          device: 'r',
          seq: i,
          ts: t0 + dt,
          metrics: { m: i + 1 },
        }));
        await s.insertReadings(rows);
        await s.insertReadings(rows); // redelivery: ignored, rollups unchanged
        await s.insertReadings([{ device: 'q', seq: 0, ts: t0 + 5_000, metrics: { m: 10 } }]);
        // Raw, 30 s buckets.
        const raw = await s.queryBuckets(['r'], 'm', t0, t0 + 200_000, 30_000);
        assert.deepEqual(
          raw.map((b) => [b.ts - t0, b.count, b.min, b.max, b.avg, b.last]),
          [
            [0, 2, 1, 2, 1.5, 2],
            [60_000, 1, 3, 3, 3, 3],
            [120_000, 1, 4, 4, 4, 4],
          ],
        );
        // Minute rollups folded into 2-minute buckets.
        const minutes = await s.queryBuckets(['r'], 'm', t0, t0 + 200_000, 120_000);
        assert.deepEqual(
          minutes.map((b) => [b.ts - t0, b.count, b.min, b.max, b.avg, b.last]),
          [
            [0, 3, 1, 3, 2, 3],
            [120_000, 1, 4, 4, 4, 4],
          ],
        );
        // The hour rollup, two devices merged (count-weighted).
        const hour = await s.queryBuckets(['r', 'q'], 'm', t0, t0 + 3_600_000, 3_600_000);
        assert.deepEqual(
          hour.map((b) => [b.ts - t0, b.count, b.min, b.max, b.avg]),
          [[0, 5, 1, 10, 4]],
        );
        // Retention: raw after 1 minute, minute rollups after 1 hour, hour rollups kept.
        const now = t0 + 3_800_000;
        const deleted = await s.pruneTelemetry(now, { rawMs: 60_000, minuteMs: 3_600_000, hourMs: 86_400_000 }, 1000);
        assert.ok(deleted >= 5, `deleted ${deleted}`);
        assert.deepEqual(await s.queryReadings('r', 'm', 0, now, 10), []);
        assert.deepEqual(await s.queryBuckets(['r'], 'm', t0, now, 60_000), []);
        assert.equal((await s.queryBuckets(['r'], 'm', t0, now, 3_600_000))[0]?.count, 4);
      }),
    );

    test(
      'events: device events once per (device, seq); hub events always; filters',
      withStore(async (s) => {
        const base = { ts: 1, source: 'device' as const, type: 'alarm', code: null, severity: 'warning' as const };
        const ids = await s.insertEvents([
          { ...base, device: 'a', seq: 5, message: 'hot', data: { t: 90 } },
          { ...base, device: 'a', seq: 5, message: 'hot again', data: {} },
          { ...base, device: null, seq: null, source: 'hub', type: 'security', message: 'x', data: {} },
          { ...base, device: null, seq: null, source: 'hub', type: 'security', message: 'y', data: {} },
        ]);
        assert.equal(ids.length, 3);
        const alarms = await s.listEvents({ device: 'a', limit: 10 });
        assert.deepEqual(
          alarms.map((e) => [e.message, e.data]),
          [['hot', { t: 90 }]],
        );
        const after = await s.listEvents({ after: ids[0]!, limit: 10 });
        assert.deepEqual(
          after.map((e) => e.message),
          ['x', 'y'],
        );
        assert.equal((await s.listEvents({ type: 'security', limit: 1 }))[0]?.message, 'y');
        // Paging forward from an id returns the oldest first, so nothing is skipped.
        const page = await s.listEvents({ after: 0, limit: 2 });
        assert.deepEqual(
          page.map((e) => e.message),
          ['hot', 'x'],
        );
      }),
    );

    test(
      'enrollment groups: claim within the limit, atomically',
      withStore(async (s) => {
        const group = {
          name: 'g',
          uid: 'u',
          claimHash: 'ch',
          template: { labels: { site: 'paris' } },
          namePrefix: 'g',
          maxDevices: 1,
          expiresAt: null,
          enrolled: 0,
          createdAt: 1,
          resourceVersion: 1,
        };
        assert.equal(await s.createEnrollmentGroup(group), true);
        assert.equal(await s.createEnrollmentGroup({ ...group, uid: 'u2', claimHash: 'ch2' }), false);
        assert.equal((await s.findEnrollmentGroupByClaimHash('ch'))?.name, 'g');
        const claimed = await s.claimDevice('g', device('g-1', { enrollmentGroup: 'g' }));
        assert.equal(claimed.ok, true);
        assert.deepEqual(await s.claimDevice('g', device('g-2')), { ok: false, reason: 'exhausted' });
        await s.updateEnrollmentGroup('g', { template: {}, namePrefix: 'g', maxDevices: 5, expiresAt: null });
        assert.deepEqual(await s.claimDevice('g', device('g-1', { uid: 'other' })), {
          ok: false,
          reason: 'name-taken',
        });
        assert.equal((await s.getEnrollmentGroup('g'))?.enrolled, 1);
        assert.deepEqual(await s.claimDevice('nope', device('n')), { ok: false, reason: 'group-not-found' });
        assert.equal(await s.deleteEnrollmentGroup('g'), true);
        assert.deepEqual(await s.listEnrollmentGroups(), []);
      }),
    );

    test(
      'deployments: create once, list in name order, update on the resource version, observe, delete',
      withStore(async (s) => {
        assert.equal(await s.createDeployment(deployment('b', { priority: -5 })), true);
        assert.equal(await s.createDeployment(deployment('a', { labels: { team: 'hvac' } })), true);
        assert.equal(await s.createDeployment(deployment('a', { uid: 'other' })), false);
        assert.deepEqual(await s.getDeployment('a'), deployment('a', { labels: { team: 'hvac' } }));
        assert.equal((await s.getDeployment('b'))?.priority, -5);
        assert.deepEqual(
          (await s.listDeployments()).map((d) => d.name),
          ['a', 'b'],
        );
        const fields = {
          labels: {},
          selector: 'site=lyon',
          priority: 10,
          modules: [{ name: 'm', kind: 'function' as const, config: { source: 'x' } }],
          generation: 2,
        };
        const updated = await s.updateDeployment('a', 1, fields);
        assert.ok(updated.ok);
        assert.deepEqual(updated.deployment, { ...deployment('a'), ...fields, resourceVersion: 2 });
        assert.deepEqual(await s.updateDeployment('a', 1, fields), { ok: false, reason: 'conflict', current: 2 });
        assert.deepEqual(await s.updateDeployment('nope', 1, fields), { ok: false, reason: 'not-found' });
        // The observed generation only grows, and never passes the generation.
        await s.observeDeployment('a', 2);
        await s.observeDeployment('a', 1);
        await s.observeDeployment('a', 3);
        assert.equal((await s.getDeployment('a'))?.observedGeneration, 2);
        assert.equal(await s.deleteDeployment('a'), true);
        assert.equal(await s.deleteDeployment('a'), false);
        assert.equal(await s.getDeployment('a'), undefined);
      }),
    );

    test(
      'lifecycle: set, and false for an unknown device',
      withStore(async (s) => {
        await s.createDevice(device('q'));
        assert.equal(await s.setDeviceLifecycle('q', 'quarantined'), true);
        assert.equal((await s.getDevice('q'))?.lifecycle, 'quarantined');
        assert.equal(await s.setDeviceLifecycle('nope', 'active'), false);
      }),
    );

    test(
      'policies: create, replace, list in name order, delete',
      withStore(async (s) => {
        const spec = {
          property: 'self-healing' as const,
          scope: 'fleet' as const,
          trigger: { kind: 'event' as const, code: 'X' },
          analysis: { symptom: 'x' },
          plan: [{ action: 'open-incident' as const }],
          rateLimit: { max: 1, perMs: 60_000 },
        };
        const p = { name: 'b', uid: 'u-b', labels: {}, spec, createdAt: 1, resourceVersion: 1 };
        assert.equal(await s.putPolicy(p), true);
        assert.equal(await s.putPolicy({ ...p, resourceVersion: 2, labels: { tier: 'x' } }), false);
        await s.putPolicy({ ...p, name: 'a', uid: 'u-a' });
        assert.deepEqual(await s.getPolicy('b'), { ...p, resourceVersion: 2, labels: { tier: 'x' } });
        assert.deepEqual(
          (await s.listPolicies()).map((x) => x.name),
          ['a', 'b'],
        );
        assert.equal(await s.deletePolicy('a'), true);
        assert.equal(await s.deletePolicy('a'), false);
        assert.equal(await s.getPolicy('a'), undefined);
      }),
    );

    test(
      'decisions: kept whole, replaced under their id, listed newest first by device, policy and state, counted',
      withStore(async (s) => {
        await s.saveDecision(decision('dec-1'));
        await s.saveDecision(decision('dec-2', { createdAt: 2000, devices: ['a', 'b'], policy: 'q' }));
        await s.saveDecision(decision('dec-3', { createdAt: 3000, devices: ['c'], state: 'held', degree: 'act' }));
        const approved = decision('dec-1', { state: 'approved', updatedAt: 1500 });
        await s.saveDecision(approved);
        assert.deepEqual(await s.getDecision('dec-1'), approved);
        assert.equal(await s.getDecision('nope'), undefined);
        const ids = async (q: Parameters<Store['listDecisions']>[0]) => (await s.listDecisions(q)).map((d) => d.id);
        assert.deepEqual(await ids({ limit: 10 }), ['dec-3', 'dec-2', 'dec-1']);
        assert.deepEqual(await ids({ limit: 10, device: 'a' }), ['dec-2', 'dec-1']);
        assert.deepEqual(await ids({ limit: 10, device: 'b' }), ['dec-2']);
        assert.deepEqual(await ids({ limit: 10, policy: 'q' }), ['dec-2']);
        assert.deepEqual(await ids({ limit: 10, states: ['held', 'approved'] }), ['dec-3', 'dec-1']);
        assert.deepEqual(await ids({ limit: 10, states: [] }), []);
        assert.deepEqual(await ids({ limit: 1 }), ['dec-3']);
        // A held decision that gains a device is found under it.
        await s.saveDecision(decision('dec-3', { createdAt: 3000, devices: ['c', 'd'], state: 'held', degree: 'act' }));
        assert.deepEqual(await ids({ limit: 10, device: 'd' }), ['dec-3']);
        assert.deepEqual(await s.countDecisions(), [
          { property: 'self-protection', degree: 'act', state: 'held', count: 1 },
          { property: 'self-protection', degree: 'approve', state: 'approved', count: 1 },
          { property: 'self-protection', degree: 'approve', state: 'awaiting-approval', count: 1 },
        ]);
      }),
    );

    test(
      'incidents: kept whole, replaced, listed newest first by device and state',
      withStore(async (s) => {
        await s.saveIncident(incident('inc-1'));
        await s.saveIncident(incident('inc-2', { openedAt: 2000, devices: ['b'] }));
        const resolved = incident('inc-1', { state: 'resolved', resolvedAt: 3000 });
        await s.saveIncident(resolved);
        assert.deepEqual(await s.getIncident('inc-1'), resolved);
        assert.equal(await s.getIncident('nope'), undefined);
        assert.deepEqual(
          (await s.listIncidents({ limit: 10 })).map((i) => i.id),
          ['inc-2', 'inc-1'],
        );
        assert.deepEqual(
          (await s.listIncidents({ limit: 10, state: 'open' })).map((i) => i.id),
          ['inc-2'],
        );
        assert.deepEqual(
          (await s.listIncidents({ limit: 10, device: 'a' })).map((i) => i.id),
          ['inc-1'],
        );
      }),
    );

    test(
      'autonomy settings: none at first, then the last one put',
      withStore(async (s) => {
        assert.equal(await s.getAutonomy(), undefined);
        await s.putAutonomy({ rules: [{ scope: 'fleet', degree: 'observe' }] }, 1);
        const spec = {
          rules: [{ scope: { site: 'paris' }, property: 'self-healing' as const, degree: 'act' as const }],
        };
        await s.putAutonomy(spec, 2);
        assert.deepEqual(await s.getAutonomy(), spec);
      }),
    );

    rolloutContract(withStore);
    replacementContract(withStore);
  });
}
