// The pure rules of deployments: layering, revs, the dry-run diff and the status counts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModuleSpec } from '@homeostat/protocol';
import type { DeploymentRecord, DeviceRecord } from '../store/store.js';
import {
  canonicalJson,
  deploymentStatus,
  desiredValue,
  diffModules,
  keepRollbacks,
  layersOf,
  moduleChanges,
  moduleRev,
  modulesFor,
  sameModules,
} from './deployments.js';

const proc = (name: string, command = 'run'): ModuleSpec => ({ name, kind: 'process', config: { command } });

function dep(name: string, selector: string, modules: ModuleSpec[], extra: Partial<DeploymentRecord> = {}) {
  return {
    name,
    uid: name,
    labels: {},
    selector,
    priority: 0,
    modules,
    createdAt: 1000,
    resourceVersion: 1,
    generation: 1,
    observedGeneration: 1,
    ...extra,
  } satisfies DeploymentRecord;
}

function device(name: string, labels: Record<string, string>, reportedModules?: unknown): DeviceRecord {
  return {
    name,
    uid: name,
    labels,
    tokenHash: '',
    lifecycle: 'active',
    enrollmentGroup: null,
    createdAt: 0,
    resourceVersion: 1,
    desired: { version: 0, state: {}, updatedAt: null },
    reported: {
      version: 1,
      state: reportedModules === undefined ? {} : { modules: reportedModules },
      desiredVersion: null,
      updatedAt: null,
    },
    capabilities: {},
    agentVersion: null,
    heartbeatMs: null,
    lastSeen: null,
    liveness: null,
    replacedBy: null,
  };
}

const winners = (set: Record<string, { deployment: string }>) =>
  Object.fromEntries(Object.entries(set).map(([k, m]) => [k, m.deployment]));

test('rev: 16 hex digits of the canonical JSON, whatever the key order', () => {
  const a: ModuleSpec = { name: 'p', kind: 'process', config: { command: 'x', args: ['1'] } };
  const b = JSON.parse('{"config":{"args":["1"],"command":"x"},"kind":"process","name":"p"}') as ModuleSpec;
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.match(moduleRev(a), /^[0-9a-f]{16}$/);
  assert.equal(moduleRev(a), moduleRev(b));
  assert.notEqual(moduleRev(a), moduleRev(proc('p', 'y')));
});

test('layering: per module name the highest priority wins, a tie goes to the newest, then the name', () => {
  const layers = layersOf([
    dep('base', 'site=paris', [proc('hvac', 'v1'), proc('log')]),
    dep('gold', 'tier=gold', [proc('hvac', 'v2')], { priority: 10 }),
    dep('newer', 'site=paris', [proc('log', 'v2')], { createdAt: 2000 }),
    dep('a-same-time', 'site=paris', [proc('extra', 'a')], { createdAt: 2000 }),
    dep('b-same-time', 'site=paris', [proc('extra', 'b')], { createdAt: 2000 }),
  ]);
  assert.deepEqual(
    layers.map((l) => l.name),
    ['gold', 'a-same-time', 'b-same-time', 'newer', 'base'],
  );
  assert.deepEqual(winners(modulesFor({ site: 'paris', tier: 'gold' }, layers)), {
    extra: 'a-same-time',
    hvac: 'gold',
    log: 'newer',
  });
  assert.deepEqual(winners(modulesFor({ site: 'paris' }, layers)), {
    extra: 'a-same-time',
    hvac: 'base',
    log: 'newer',
  });
  assert.deepEqual(modulesFor({ site: 'lyon' }, layers), {});
  const set = modulesFor({ tier: 'gold' }, layers);
  assert.deepEqual(set.hvac, { rev: moduleRev(proc('hvac', 'v2')), deployment: 'gold', spec: proc('hvac', 'v2') });
});

test('an empty selector targets every device; the set is empty-as-absent', () => {
  const layers = layersOf([dep('all', '', [proc('m')])]);
  assert.deepEqual(Object.keys(modulesFor({}, layers)), ['m']);
  assert.equal(desiredValue({}), undefined);
  assert.equal(sameModules(undefined, {}), true);
  assert.equal(sameModules({}, {}), false, 'an empty stored object is removed');
  const set = modulesFor({}, layers);
  assert.equal(sameModules(JSON.parse(JSON.stringify(set)), set), true);
});

test('dry-run diff: added, removed, changed with revs, and targeting', () => {
  const before = modulesFor({ site: 'paris' }, layersOf([dep('base', 'site=paris', [proc('a'), proc('b')])]));
  const after = modulesFor(
    { site: 'paris' },
    layersOf([
      dep('base', 'site=paris', [proc('a'), proc('b')]),
      dep('x', 'site', [proc('b', 'new'), proc('c')], { createdAt: 2000 }),
    ]),
  );
  const diff = diffModules('d', before, after, { before: false, after: true });
  assert.equal(diff?.targeting, 'start');
  assert.deepEqual(
    diff?.added.map((m) => m.name),
    ['c'],
  );
  assert.deepEqual(diff?.removed, []);
  assert.deepEqual(diff?.changed, [
    {
      name: 'b',
      from: { name: 'b', rev: moduleRev(proc('b')), deployment: 'base' },
      to: { name: 'b', rev: moduleRev(proc('b', 'new')), deployment: 'x' },
    },
  ]);
  assert.deepEqual(diffModules('d', after, before, { before: true, after: false })?.removed.length, 1);
  assert.equal(diffModules('d', before, before, { before: true, after: true }), null);
  // Targeted before and after with nothing won either way is no change either.
  assert.equal(diffModules('d', {}, {}, { before: true, after: true }), null);
  assert.equal(diffModules('d', {}, {}, { before: false, after: true })?.targeting, 'start');
});

test('status: applied, pending, failing and overridden from what devices report', () => {
  const base = dep('base', 'site=paris', [proc('hvac'), proc('log')]);
  const gold = dep('gold', 'tier=gold', [proc('hvac', 'gold'), proc('log', 'gold')], { priority: 5 });
  const layers = layersOf([base, gold]);
  const rev = (spec: ModuleSpec) => moduleRev(spec);
  const r = (spec: ModuleSpec, state: string, revOf: string | null = rev(spec)) => ({
    kind: 'process',
    rev: revOf,
    state,
    since: 1,
    restarts: 0,
  });
  const devices = [
    device('applied', { site: 'paris' }, { hvac: r(proc('hvac'), 'running'), log: r(proc('log'), 'running') }),
    device('old-rev', { site: 'paris' }, { hvac: r(proc('hvac'), 'running', '0123456789abcdef') }),
    device('failing', { site: 'paris' }, { hvac: r(proc('hvac'), 'crash-loop'), log: r(proc('log'), 'running') }),
    device('refused', { site: 'paris' }, { hvac: { ...r(proc('hvac'), 'refused'), rev: null } }),
    device('overridden', { site: 'paris', tier: 'gold' }),
    device('elsewhere', { site: 'lyon' }),
  ];
  const status = deploymentStatus(base, layers, devices, true);
  assert.deepEqual(
    { ...status, devices: undefined },
    {
      observedGeneration: 1,
      targeted: 5,
      applied: 1,
      pending: 1,
      failing: 2,
      overridden: 1,
      devices: undefined,
    },
  );
  assert.deepEqual(
    status.devices?.map((d) => [d.name, d.state]),
    [
      ['applied', 'applied'],
      ['old-rev', 'pending'],
      ['failing', 'failing'],
      ['refused', 'failing'],
      ['overridden', 'overridden'],
    ],
  );
  assert.equal(deploymentStatus(gold, layers, devices, false).devices, undefined);
  assert.deepEqual(deploymentStatus(gold, layers, devices, false).pending, 1);
});

test('a rollback held on a device is kept while the deployments name the failing rev, and lapses after', () => {
  const entry = (spec: ModuleSpec, deployment = 'd') => ({ rev: moduleRev(spec), deployment, spec });
  const [a, b, c] = [proc('m', 'a'), proc('m', 'b'), proc('m', 'c')];
  const held = { ...entry(a), rolledBack: { from: moduleRev(b), decision: 'dec-1', at: 5 } };
  const other = entry(proc('n'));
  // The deployments name b: the device keeps a, the other module is the deployments'.
  assert.deepEqual(keepRollbacks({ m: entry(b), n: other }, { m: held, n: other }), { m: held, n: other });
  // They name c now (a fix), or no longer have m: the rollback lapses.
  assert.deepEqual(keepRollbacks({ m: entry(c) }, { m: held }), { m: entry(c) });
  assert.deepEqual(keepRollbacks({}, { m: held }), {});
  assert.deepEqual(keepRollbacks({ m: entry(b) }, undefined), { m: entry(b) });

  // What a write changes, module by module, with the whole entry each replaced.
  assert.deepEqual(moduleChanges({ m: entry(a), n: other }, { m: entry(b), o: entry(proc('o')) }), [
    { module: 'm', from: entry(a), to: { rev: moduleRev(b), deployment: 'd' } },
    { module: 'n', from: other, to: null },
    { module: 'o', from: null, to: { rev: moduleRev(proc('o')), deployment: 'd' } },
  ]);
  assert.deepEqual(moduleChanges({ m: entry(a) }, { m: entry(a) }), []);
});
