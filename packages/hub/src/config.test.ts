// configFromEnv: the defaults, each HOMEOSTAT_* variable, and invalid values refused all at once.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configFromEnv, DEFAULT_CONFIG, type HubConfig } from './config.js';

/** The message of the error `configFromEnv(env)` throws. */
function problems(env: Record<string, string | undefined>): string {
  try {
    configFromEnv(env);
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be refused`);
}

describe('configFromEnv', () => {
  test('no variables: the defaults (loopback, 8080, 1883, .homeostat/hub, no admin token)', () => {
    const config = configFromEnv({});
    assert.deepEqual(config, DEFAULT_CONFIG);
    assert.equal(config.listen, '127.0.0.1');
    assert.equal(config.httpPort, 8080);
    assert.equal(config.mqttPort, 1883);
    assert.equal(config.dataDir, '.homeostat/hub');
    assert.equal(config.adminToken, null);
    assert.equal(config.logLevel, 'info');
  });

  test('unrelated variables are ignored and the defaults object is left alone', () => {
    const before = structuredClone(DEFAULT_CONFIG);
    const config = configFromEnv({ PATH: '/usr/bin', HOME: '/home/x', HOMEOSTAT_SERVER: 'http://elsewhere' });
    assert.deepEqual(config, DEFAULT_CONFIG);
    assert.notEqual(config, DEFAULT_CONFIG, 'a copy, not the shared defaults');
    assert.deepEqual(DEFAULT_CONFIG, before);
  });

  test('empty values mean "not set"', () => {
    const config = configFromEnv({
      HOMEOSTAT_LISTEN: '',
      HOMEOSTAT_HTTP_PORT: '',
      HOMEOSTAT_MQTT_PORT: '',
      HOMEOSTAT_DATA: '',
      HOMEOSTAT_HEARTBEAT_MS: '',
      HOMEOSTAT_MAX_PAYLOAD_BYTES: '',
      HOMEOSTAT_ADMIN_TOKEN: '',
      HOMEOSTAT_LOG_LEVEL: '',
    });
    assert.deepEqual(config, DEFAULT_CONFIG);
  });

  const cases: [string, string, Partial<HubConfig>][] = [
    ['HOMEOSTAT_LISTEN', '0.0.0.0', { listen: '0.0.0.0' }],
    ['HOMEOSTAT_HTTP_PORT', '9090', { httpPort: 9090 }],
    ['HOMEOSTAT_HTTP_PORT', '0', { httpPort: 0 }],
    ['HOMEOSTAT_MQTT_PORT', '11883', { mqttPort: 11883 }],
    ['HOMEOSTAT_MQTT_PORT', '0', { mqttPort: 0 }],
    ['HOMEOSTAT_DATA', '/var/lib/homeostat', { dataDir: '/var/lib/homeostat' }],
    ['HOMEOSTAT_HEARTBEAT_MS', '5000', { heartbeatMs: 5000 }],
    ['HOMEOSTAT_MAX_PAYLOAD_BYTES', '4096', { maxPayloadBytes: 4096 }],
    ['HOMEOSTAT_ADMIN_TOKEN', 'a-long-enough-admin-token', { adminToken: 'a-long-enough-admin-token' }],
    ['HOMEOSTAT_ADMIN_TOKEN', '0123456789abcdef', { adminToken: '0123456789abcdef' }],
    ['HOMEOSTAT_LOG_LEVEL', 'debug', { logLevel: 'debug' }],
  ];
  for (const [key, value, expected] of cases) {
    test(`${key}=${value} sets only ${Object.keys(expected).join(', ')}`, () => {
      assert.deepEqual(configFromEnv({ [key]: value }), { ...DEFAULT_CONFIG, ...expected });
    });
  }

  test('the bounds of the integer variables are accepted', () => {
    const low = configFromEnv({
      HOMEOSTAT_HTTP_PORT: '0',
      HOMEOSTAT_MQTT_PORT: '65535',
      HOMEOSTAT_HEARTBEAT_MS: '100',
      HOMEOSTAT_MAX_PAYLOAD_BYTES: '1024',
    });
    assert.equal(low.httpPort, 0);
    assert.equal(low.mqttPort, 65535);
    assert.equal(low.heartbeatMs, 100);
    assert.equal(low.maxPayloadBytes, 1024);
    const high = configFromEnv({ HOMEOSTAT_HEARTBEAT_MS: '3600000', HOMEOSTAT_MAX_PAYLOAD_BYTES: '268435456' });
    assert.equal(high.heartbeatMs, 3_600_000);
    assert.equal(high.maxPayloadBytes, 256 * 1024 * 1024);
  });

  test('variables apply over the given base, which keeps what they do not set', () => {
    const base: HubConfig = { ...DEFAULT_CONFIG, httpPort: 1, dataDir: null, maxClockSkewMs: 5 };
    const config = configFromEnv({ HOMEOSTAT_MQTT_PORT: '2' }, base);
    assert.deepEqual(config, { ...base, mqttPort: 2 });
    assert.equal(config.dataDir, null);
  });

  test('each invalid integer is refused with its variable name and value', () => {
    const invalid: [string, string][] = [
      ['HOMEOSTAT_HTTP_PORT', 'abc'],
      ['HOMEOSTAT_HTTP_PORT', '65536'],
      ['HOMEOSTAT_HTTP_PORT', '-1'],
      ['HOMEOSTAT_HTTP_PORT', '80.5'],
      ['HOMEOSTAT_MQTT_PORT', '1e6'],
      ['HOMEOSTAT_HEARTBEAT_MS', '99'],
      ['HOMEOSTAT_HEARTBEAT_MS', '3600001'],
      ['HOMEOSTAT_MAX_PAYLOAD_BYTES', '1023'],
    ];
    for (const [key, value] of invalid) {
      const message = problems({ [key]: value });
      assert.match(message, /^invalid configuration/);
      assert.ok(message.includes(`${key}: must be an integer from`), message);
      assert.ok(message.includes(JSON.stringify(value)), message);
    }
  });

  test('every problem is listed at once, one per line', () => {
    const message = problems({
      HOMEOSTAT_HTTP_PORT: 'abc',
      HOMEOSTAT_MQTT_PORT: '70000',
      HOMEOSTAT_HEARTBEAT_MS: 'fast',
      HOMEOSTAT_MAX_PAYLOAD_BYTES: '1',
      HOMEOSTAT_ADMIN_TOKEN: 'short',
    });
    const lines = message.split('\n').slice(1);
    assert.equal(lines.length, 5, message);
    for (const key of [
      'HOMEOSTAT_HTTP_PORT',
      'HOMEOSTAT_MQTT_PORT',
      'HOMEOSTAT_HEARTBEAT_MS',
      'HOMEOSTAT_MAX_PAYLOAD_BYTES',
      'HOMEOSTAT_ADMIN_TOKEN',
    ]) {
      assert.equal(lines.filter((l) => l.trim().startsWith(`${key}:`)).length, 1, `${key} in\n${message}`);
    }
  });

  test('an admin token shorter than 16 characters is refused, and not echoed back', () => {
    const message = problems({ HOMEOSTAT_ADMIN_TOKEN: '0123456789abcde' });
    assert.match(message, /HOMEOSTAT_ADMIN_TOKEN: must be at least 16 characters/);
    assert.equal(message.includes('0123456789abcde'), false, 'a secret, even a bad one, stays out of the message');
  });
});
