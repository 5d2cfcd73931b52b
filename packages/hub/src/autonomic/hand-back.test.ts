// The pure parts of hand-back and replacement: which hand-overs are due back, the refusals and
// the plan of a replacement.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHomeostatError } from '@homeostat/protocol';
import type { LivenessEntry } from '../model/liveness.js';
import type { DeviceRecord, HandOverRecord } from '../store/store.js';
import { dueHandBacks } from './hand-back.js';
import { checkReplacement, planReplacement } from './replace.js';

const h = (id: string, from: string, createdAt: number, extra: Partial<HandOverRecord> = {}): HandOverRecord => ({
  id,
  decision: `dec-${id}`,
  policy: 'p',
  from,
  to: 'peer',
  set: { setpoint: 21 },
  before: { setpoint: null },
  state: 'active',
  createdAt,
  returning: null,
  returnedAt: null,
  ...extra,
});

const live = (state: LivenessEntry['state'], since: number): LivenessEntry => ({
  state,
  since,
  lastSeen: since,
  heartbeatMs: 1000,
  evidence: { kind: 'heartbeat', at: since, detail: '' },
});

test('hand-overs go back once the device is online long enough and each has stood its hold-down', () => {
  const states: Record<string, LivenessEntry> = {
    a: live('online', 10_000),
    b: live('online', 19_000),
    c: live('offline', 10_000),
    d: live('online', 0),
  };
  const due = dueHandBacks({
    now: 20_000,
    active: [
      h('1', 'a', 0),
      h('2', 'a', 15_000), // within its hold-down
      h('3', 'b', 0), // b back for 1 s only
      h('4', 'c', 0), // c is offline
      h('5', 'd', 0, { returning: 'dec-x' }), // decided already
      h('6', 'd', 0, { state: 'returned' }),
    ],
    liveness: (d) => states[d] ?? live('unknown', 0),
    holdDownMs: () => 10_000,
    stableIntervals: 2,
  });
  assert.deepEqual(
    due.map((x) => [x.device, x.handOvers.map((y) => y.id), x.stableMs]),
    [['a', ['1'], 2000]],
  );
});

const record = (name: string, labels: Record<string, string>, extra: Partial<DeviceRecord> = {}): DeviceRecord => ({
  name,
  uid: name,
  labels,
  tokenHash: '',
  lifecycle: 'active',
  enrollmentGroup: null,
  createdAt: 0,
  resourceVersion: 1,
  desired: { version: 1, state: { setpoint: 20, modules: { x: {} }, mode: 'eco' }, updatedAt: null },
  reported: { version: 0, state: {}, desiredVersion: null, updatedAt: null },
  capabilities: {},
  agentVersion: null,
  heartbeatMs: null,
  lastSeen: null,
  liveness: null,
  replacedBy: null,
  ...extra,
});

test('a replacement is refused with the precise code', () => {
  const old = record('old', { slot: 's1' });
  const code = (fn: () => void) => {
    try {
      fn();
      return 'none';
    } catch (err) {
      return isHomeostatError(err) ? err.code : String(err);
    }
  };
  assert.equal(
    code(() => checkReplacement('old', 'old', old, old)),
    'ERR_REPLACE_SELF',
  );
  assert.equal(
    code(() => checkReplacement('x', 'new', undefined, record('new', {}))),
    'ERR_DEVICE_NOT_FOUND',
  );
  assert.equal(
    code(() => checkReplacement('old', 'y', old, undefined)),
    'ERR_DEVICE_NOT_FOUND',
  );
  assert.equal(
    code(() => checkReplacement('old', 'new', old, record('new', { slot: 's2' }))),
    'ERR_REPLACE_IN_SERVICE',
  );
  assert.equal(
    code(() => checkReplacement('old', 'new', old, record('new', { slot: 's1' }))),
    'none',
  );
  const retired = record('old', {}, { lifecycle: 'retired' });
  assert.equal(
    code(() => checkReplacement('old', 'new', retired, record('new', {}))),
    'ERR_DEVICE_RETIRED',
  );
  // A slot claim may fill the place of a device retired without a replacement, not of a replaced one.
  assert.equal(
    code(() => checkReplacement('old', 'new', retired, record('new', {}), true)),
    'none',
  );
  const replaced = record('old', {}, { lifecycle: 'retired', replacedBy: 'other' });
  assert.equal(
    code(() => checkReplacement('old', 'new', replaced, record('new', {}), true)),
    'ERR_DEVICE_RETIRED',
  );
  assert.equal(
    code(() => checkReplacement('old', 'new', old, record('new', {}, { lifecycle: 'retired' }))),
    'ERR_DEVICE_RETIRED',
  );
});

test('the plan of a replacement: labels, desired keys but modules, relabelled peers, duties, waiting decisions', () => {
  const old = record('old', { room: 'r1', slot: 's1' });
  const neu = record('new', { 'hw-rev': 'c', room: 'r9' });
  const planned = { state: 'planned' as const, result: null, startedAt: null, finishedAt: null };
  const waiting = (id: string, kind: 'event' | 'security', action: 'patch-desired' | 'quarantine') => ({
    id,
    state: 'awaiting-approval',
    trigger: { kind },
    actions: [{ action, device: 'old', params: {}, ...planned }],
  });
  const plan = planReplacement({
    old,
    neu,
    fleet: [
      old,
      neu,
      record('backup', { 'backup-for': 'old' }),
      record('gone', { 'backup-for': 'old' }, { lifecycle: 'retired' }),
    ],
    handOvers: [h('1', 'silent', 0, { to: 'old' }), h('2', 'old', 0), h('3', 'x', 0, { state: 'returned' })],
    incidents: [{ id: 'inc-1' }],
    awaiting: [waiting('d1', 'event', 'patch-desired'), waiting('d2', 'security', 'quarantine')] as never,
  });
  assert.deepEqual(plan, {
    old: 'old',
    new: 'new',
    labels: { 'hw-rev': 'c', room: 'r1', slot: 's1' },
    desiredKeys: ['mode', 'setpoint'],
    relabelled: [{ device: 'backup', key: 'backup-for' }],
    handOvers: [
      { id: '1', from: 'silent', to: 'new' },
      { id: '2', from: 'new', to: 'peer' },
    ],
    incidents: ['inc-1'],
    approvals: [
      { id: 'd1', change: 'retarget' },
      { id: 'd2', change: 'hold' },
    ],
  });
});
