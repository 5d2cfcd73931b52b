// The module planner on plans: start, stop, restart with a new rev, nothing when equal, stops
// before starts, refusals for invalid or misfiled specs, and idempotence.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesiredModule } from '@homeostat/protocol';
import { type CurrentModule, planModules } from './plan.js';

const fn = (name: string, rev: string): DesiredModule => ({
  rev,
  deployment: 'edge',
  spec: { name, kind: 'function', config: { source: 'function handle() {}' } },
});
const held = (entries: Record<string, string>): Map<string, CurrentModule> =>
  new Map(Object.entries(entries).map(([name, fingerprint]) => [name, { fingerprint }]));
const brief = (steps: ReturnType<typeof planModules>) =>
  steps.map((s) => `${s.op} ${s.name}${'module' in s ? ` ${s.module.rev}` : ''}`);

test('nothing held: start every module, in name order', () => {
  assert.deepEqual(brief(planModules(new Map(), { b: fn('b', 'bbbbbbbb'), a: fn('a', 'aaaaaaaa') })), [
    'start a aaaaaaaa',
    'start b bbbbbbbb',
  ]);
});

test('same rev: nothing; another rev: restart; gone: stop; stops come before starts', () => {
  const current = held({ keep: '11111111', change: '22222222', gone: '33333333' });
  const desired = { keep: fn('keep', '11111111'), change: fn('change', '2222ffff'), add: fn('add', '44444444') };
  assert.deepEqual(brief(planModules(current, desired)), [
    'stop gone',
    'restart change 2222ffff',
    'start add 44444444',
  ]);
});

test('a held set that matches the desired set plans nothing (idempotent)', () => {
  const desired = { a: fn('a', 'aaaaaaaa'), b: fn('b', 'bbbbbbbb') };
  assert.deepEqual(planModules(held({ a: 'aaaaaaaa', b: 'bbbbbbbb' }), desired), []);
  assert.deepEqual(planModules(held({}), {}), []);
});

test('an invalid spec is refused with the problem; the same invalid entry is not refused twice', () => {
  const bad = { rev: 'abcdef01', deployment: 'edge', spec: { name: 'bad', kind: 'function', config: { source: '' } } };
  const steps = planModules(new Map(), { bad });
  assert.equal(steps.length, 1);
  const [step] = steps;
  assert.ok(step?.op === 'refuse');
  assert.equal(step.rev, 'abcdef01');
  assert.equal(step.kind, 'function');
  assert.match(step.reason, /\/spec\/config\/source/);
  assert.deepEqual(planModules(held({ bad: step.fingerprint }), { bad }), []);
});

test('a running module whose new entry is invalid is refused (which stops it); unknown kinds have no kind', () => {
  const steps = planModules(held({ a: 'aaaaaaaa' }), {
    a: { rev: 'aaaa0000', deployment: 'edge', spec: { name: 'a', kind: 'teleport', config: {} } },
  });
  assert.deepEqual(
    steps.map((s) => [s.op, s.op === 'refuse' ? s.kind : undefined]),
    [['refuse', null]],
  );
});

test('a spec filed under another name than its own is refused', () => {
  const [step] = planModules(new Map(), { x: fn('y', 'aaaaaaaa') });
  assert.ok(step?.op === 'refuse');
  assert.match(step.reason, /named "y" but filed under "x"/);
});
