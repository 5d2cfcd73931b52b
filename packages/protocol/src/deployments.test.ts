import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deviceModules, moduleCondition, parseDeploymentSpec, withDefaults } from './deployments.js';

const rule = {
  name: 'heat',
  kind: 'rule',
  config: {
    when: { metric: 'temperature', below: 19 },
    onActivate: [{ actuate: { actuator: 'heater', value: true } }],
  },
};

test('a deployment spec: valid, with its defaults', () => {
  const parsed = parseDeploymentSpec({ selector: 'site=paris', modules: [rule] });
  assert.ok(parsed.ok);
  assert.equal(withDefaults(parsed.value).priority, 0);
});

test('a deployment spec: every problem, inside module configs precisely, then selector and duplicate names', () => {
  const bad = parseDeploymentSpec({
    selector: 'site=paris',
    priority: 1.5,
    modules: [{ ...rule, config: { ...rule.config, when: { metric: 'temperature', belw: 19 } } }],
    extra: true,
  });
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok);
  assert.ok(bad.errors.includes('/modules/0/config/when/belw: Unexpected property'), bad.errors.join('\n'));
  assert.ok(bad.errors.some((e) => e.startsWith('/priority: ')));
  assert.ok(bad.errors.includes('/extra: Unexpected property'));
  const semantic = parseDeploymentSpec({ selector: 'site=paris,bad key', modules: [rule, rule] });
  assert.ok(!semantic.ok);
  assert.deepEqual(semantic.errors, [
    '/selector: invalid label key "bad key"',
    '/modules/1/name: heat is also the name of /modules/0; module names must be unique',
  ]);
  const empty = parseDeploymentSpec({ selector: '', modules: [] });
  assert.ok(!empty.ok);
  assert.ok(empty.errors.some((e) => e.startsWith('/modules: ')));
});

test('module condition: applied only at the desired rev and running; failing only for the desired rev', () => {
  const r = (rev: string | null, state: 'running' | 'crash-loop' | 'starting' | 'refused') => ({
    kind: 'rule' as const,
    rev,
    state,
    since: 0,
    restarts: 0,
    lastError: null,
  });
  assert.equal(moduleCondition('aaaaaaaa', null), 'pending');
  assert.equal(moduleCondition('aaaaaaaa', r('aaaaaaaa', 'running')), 'applied');
  assert.equal(moduleCondition('aaaaaaaa', r('aaaaaaaa', 'starting')), 'pending');
  assert.equal(moduleCondition('aaaaaaaa', r('aaaaaaaa', 'crash-loop')), 'failing');
  assert.equal(moduleCondition('aaaaaaaa', r(null, 'refused')), 'failing');
  assert.equal(moduleCondition('aaaaaaaa', r('bbbbbbbb', 'crash-loop')), 'pending', 'an older rev failing');
  assert.equal(moduleCondition('aaaaaaaa', r('bbbbbbbb', 'running')), 'pending');
});

test('device modules: desired and reported side by side; reported-only ones are being removed', () => {
  const desired = { modules: { heat: { rev: 'aaaaaaaa', deployment: 'rooms', spec: rule }, junk: { rev: 1 } } };
  // As a merge patch leaves it: `lastError: null` deleted.
  const reported = {
    modules: {
      heat: { kind: 'rule', rev: 'aaaaaaaa', state: 'running', since: 5, restarts: 0 },
      old: { kind: 'process', rev: 'cccccccc', state: 'running', since: 5, restarts: 2 },
    },
  };
  const rows = deviceModules(desired, reported);
  assert.deepEqual(
    rows.map((m) => [m.name, m.kind, m.deployment, m.desiredRev, m.reported?.lastError, m.condition]),
    [
      ['heat', 'rule', 'rooms', 'aaaaaaaa', null, 'applied'],
      ['old', 'process', null, null, null, 'removing'],
    ],
  );
  assert.deepEqual(deviceModules({}, {}), []);
});
