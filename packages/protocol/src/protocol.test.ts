import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyMergePatch,
  ModuleSpec,
  matchesSelector,
  parseDeviceTopic,
  parseJson,
  parser,
  parseSelector,
  TelemetryMessage,
  topicDeviceSegment,
  topics,
} from './index.js';

test('device topics parse back to their kind and device', () => {
  assert.deepEqual(parseDeviceTopic(topics.telemetry('pump-1')), { deviceId: 'pump-1', kind: 'telemetry' });
  assert.deepEqual(parseDeviceTopic(topics.twinReported('a')), { deviceId: 'a', kind: 'twinReported' });
  assert.deepEqual(parseDeviceTopic(topics.command('a', 'reboot')), {
    deviceId: 'a',
    kind: 'commands',
    name: 'reboot',
  });
  assert.equal(parseDeviceTopic('homeostat/v1/a/unknown'), null);
  assert.equal(parseDeviceTopic('homeostat/v1/A_B/telemetry'), null);
  assert.equal(parseDeviceTopic('other/a/telemetry'), null);
  assert.equal(topicDeviceSegment('homeostat/v1/+/telemetry'), null);
  assert.equal(topicDeviceSegment('homeostat/v1/dev/#'), 'dev');
  assert.equal(topicDeviceSegment('homeostat/v1/dev'), 'dev');
  assert.equal(topicDeviceSegment('homeostat/v1/'), null);
  assert.equal(topicDeviceSegment('homeostat/v1//telemetry'), null);
  assert.equal(topicDeviceSegment('homeostat/v1/#'), null);
  assert.equal(topicDeviceSegment('homeostat/v2/dev/telemetry'), null);
});

test('telemetry parser accepts one reading or a batch and names each problem by path', () => {
  const p = parser(TelemetryMessage);
  assert.equal(p.parse({ seq: 1, ts: 5, metrics: { temperature: 20.5 } }).ok, true);
  assert.equal(
    p.parse([
      { seq: 1, metrics: { a: 1 } },
      { seq: 2, metrics: { b: 2 } },
    ]).ok,
    true,
  );
  const bad = p.parse({ seq: -1, metrics: { 'bad name!': 'x' } });
  assert.equal(bad.ok, false);
  if (!bad.ok)
    assert.ok(
      bad.errors.some((e) => e.startsWith('/seq')),
      bad.errors.join('\n'),
    );
  assert.equal(p.parse({ seq: 1, metrics: {} }).ok, false);
});

test('parseJson refuses malformed text and non-finite numbers', () => {
  assert.equal(parseJson('{"a":').ok, false);
  const inf = parseJson('{"metrics":{"x":1e999}}');
  assert.deepEqual(inf, { ok: false, errors: ['/metrics/x: number is not finite'] });
  assert.deepEqual(parseJson('{"a":1}'), { ok: true, value: { a: 1 } });
  assert.deepEqual(parseJson('-1e999'), { ok: false, errors: ['/: number is not finite'] });
  assert.deepEqual(parseJson('[1,{"b":[2,1e400]}]'), { ok: false, errors: ['/1/b/1: number is not finite'] });
  assert.deepEqual(parseJson('{"__proto__":{"x":1e999}}'), {
    ok: false,
    errors: ['/__proto__/x: number is not finite'],
  });
});

test('merge patch follows RFC 7396', () => {
  assert.deepEqual(applyMergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), {
    a: 1,
    b: { d: 3, e: 4 },
    f: [1],
  });
  assert.deepEqual(applyMergePatch({ a: 1 }, 'x'), 'x');
});

test('label selectors', () => {
  const parsed = parseSelector('site=paris,model!=m1,beta,!retired');
  assert.ok('terms' in parsed);
  if (!('terms' in parsed)) return;
  assert.equal(matchesSelector({ site: 'paris', beta: 'yes' }, parsed.terms), true);
  assert.equal(matchesSelector({ site: 'paris', beta: 'yes', retired: 'y' }, parsed.terms), false);
  assert.equal(matchesSelector({ site: 'lyon', beta: 'yes' }, parsed.terms), false);
  assert.ok('errors' in parseSelector('bad key=1'));
});

test('module specs: a problem inside a union is reported where it is, not as "union value"', () => {
  const p = parser(ModuleSpec);
  const heating = {
    name: 'heating',
    kind: 'rule',
    config: {
      when: { metric: 'temperature', below: { metric: 'setpoint', offset: -0.25 } },
      until: { metric: 'temperature', above: { metric: 'setpoint', offset: 0.25 } },
      minActiveMs: 60_000,
      onActivate: [{ actuate: { actuator: 'heatingElement', value: 1 } }],
    },
  };
  assert.equal(p.parse(heating).ok, true);
  assert.deepEqual(
    p.parse({ ...heating, config: { when: { all: [{ metric: 'temperature', belw: 3 }] }, onActivate: [] } }),
    { ok: false, errors: ['/config/when/all/0/belw: Unexpected property'] },
  );
  assert.deepEqual(p.parse({ name: 'x', kind: 'process', config: { command: 'run', stopTimeoutMs: -1 } }), {
    ok: false,
    errors: ['/config/stopTimeoutMs: Expected integer to be greater or equal to 0'],
  });
  const raise = { raise: { type: 'alarm', code: 'low battery', message: 'x' } };
  const bad = p.parse({ ...heating, config: { ...heating.config, onActivate: [raise] } });
  assert.ok(!bad.ok && bad.errors[0]?.startsWith('/config/onActivate/0/raise/code: Expected string to match'));
});
