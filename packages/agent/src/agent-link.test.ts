// The agent on a real aedes broker over TCP: status and capabilities, heartbeats on the clock,
// sampling, commands, error notices, graceful stop and the last will.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '@homeostat/testing';
import { connectAsync } from 'mqtt';
import { harness } from './test-support.js';

test('connects, announces itself online with capabilities (retained) and heartbeats every heartbeatMs', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ heartbeatMs: 1000 });
  const connected = new Promise<void>((resolve) => agent.events.on('connected', () => resolve()));
  await agent.start();
  await connected;
  assert.equal(agent.connected, true);
  assert.equal(agent.id, 'dev-1');

  const [status] = await waitFor(() => (h.hub.of('dev-1', 'status').length > 0 ? h.hub.of('dev-1', 'status') : null));
  assert.equal(status?.retain, true);
  assert.deepEqual(status?.json, {
    online: true,
    ts: h.clock.now(),
    heartbeatMs: 1000,
    agent: { version: '0.1.0' },
    capabilities: {
      kind: 'thermostat',
      sensors: ['temperature'],
      actuators: ['heater'],
      battery: false,
      // What onnxruntime-node offers on this machine, found by the agent itself.
      executionProviders: ['cpu'],
    },
  });

  // The broker keeps it for whoever subscribes later (the hub after a restart).
  const observer = await connectAsync(h.broker.url, { clientId: 'observer' });
  h.defer(() => observer.endAsync(true));
  const retained: unknown[] = [];
  observer.on('message', (_topic, payload) => retained.push(JSON.parse(payload.toString())));
  await observer.subscribeAsync('homeostat/v1/dev-1/status', { qos: 1 });
  await waitFor(() => retained.length === 1);
  assert.equal((retained[0] as { online: boolean }).online, true);

  // Heartbeats follow the clock, not real time.
  assert.equal(h.hub.of('dev-1', 'heartbeat').length, 0);
  const start = h.clock.now();
  await h.clock.advance(1000);
  await waitFor(() => h.hub.of('dev-1', 'heartbeat').length === 1, { message: 'first heartbeat' });
  await h.clock.advance(3000);
  await waitFor(() => h.hub.of('dev-1', 'heartbeat').length === 4, { message: 'three more heartbeats' });
  assert.deepEqual(
    h.hub.of('dev-1', 'heartbeat').map((m) => m.json),
    [1000, 2000, 3000, 4000].map((d) => ({ ts: start + d, uptimeMs: d })),
  );
});

test('samples every sampleMs and raises events, telemetry and events sharing one seq sequence', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ sampleMs: 500, dataDir: null });
  await agent.start();
  await waitFor(() => agent.connected);
  await h.clock.advance(1500);
  const seq = agent.raiseEvent({ type: 'alarm', code: 'temp.high', severity: 'warning', message: 'too hot' });
  await waitFor(() => h.hub.seqs('dev-1').size === 4, { message: 'three readings and one event' });
  assert.deepEqual(
    h.hub.readings('dev-1').map((r) => r.seq),
    [1, 2, 3],
  );
  assert.equal(seq, 4);
  assert.deepEqual(h.hub.of('dev-1', 'events')[0]?.json, {
    seq: 4,
    ts: h.clock.now(),
    type: 'alarm',
    code: 'temp.high',
    severity: 'warning',
    message: 'too hot',
  });
  await waitFor(() => agent.outboxSize === 0, { message: 'acked entries leave the outbox' });
});

test('answers commands: unknown, expired, handled, and a failing handler', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ dataDir: null });
  agent.onCommand('reboot', async (args) => ({ rebooting: true, delay: args.delay }));
  agent.onCommand('explode', async () => {
    throw new Error('kaboom');
  });
  await agent.start();
  await waitFor(() => agent.connected);
  await waitFor(() => h.broker.aedes.connectedClients === 1);
  // Let the SUBSCRIBE reach the broker before sending commands.
  await waitFor(() => h.hub.of('dev-1', 'twin/reported').length > 0);
  const base = 'homeostat/v1/dev-1/commands';
  await h.hub.publish(`${base}/dance`, { id: 'c1', args: {} });
  await h.hub.publish(`${base}/reboot`, { id: 'c2', args: {}, expiresAt: h.clock.now() - 1 });
  await h.hub.publish(`${base}/reboot`, { id: 'c3', args: { delay: 5 }, expiresAt: h.clock.now() + 60_000 });
  await h.hub.publish(`${base}/explode`, { id: 'c4', args: {} });
  await h.hub.publish(`${base}/reboot`, { id: 'c5' });
  const results = await waitFor(() => {
    const r = h.hub.of('dev-1', 'command-results').map((m) => m.json as { id: string });
    return r.length === 5 ? new Map(r.map((x) => [x.id, x])) : null;
  });
  assert.deepEqual(results.get('c1'), {
    id: 'c1',
    ok: false,
    error: { code: 'ERR_COMMAND_UNKNOWN', message: 'this device has no command named dance' },
  });
  assert.equal((results.get('c2') as { error?: { code: string } }).error?.code, 'ERR_COMMAND_EXPIRED');
  assert.deepEqual(results.get('c3'), { id: 'c3', ok: true, result: { rebooting: true, delay: 5 } });
  assert.deepEqual(results.get('c4'), {
    id: 'c4',
    ok: false,
    error: { code: 'ERR_COMMAND_FAILED', message: 'kaboom' },
  });
  assert.equal((results.get('c5') as { error?: { code: string } }).error?.code, 'ERR_VALIDATION');
});

test('emits the error notices the hub sends', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ dataDir: null });
  const notices: unknown[] = [];
  agent.events.on('error-notice', (n) => notices.push(n));
  await agent.start();
  await waitFor(() => h.hub.of('dev-1', 'twin/reported').length > 0);
  const notice = { code: 'ERR_VALIDATION', message: 'bad reading', topic: 'homeostat/v1/dev-1/telemetry', seq: 3 };
  await h.hub.publish('homeostat/v1/dev-1/errors', 'not json');
  await h.hub.publish('homeostat/v1/dev-1/errors', notice);
  await waitFor(() => notices.length === 1);
  assert.deepEqual(notices, [notice]);
});

test('a graceful stop publishes a retained offline status with reason "stopped"', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ dataDir: null });
  const events: string[] = [];
  agent.events.on('disconnected', ({ reason }) => events.push(reason));
  await agent.start();
  await waitFor(() => agent.connected);
  await agent.stop();
  assert.equal(agent.connected, false);
  assert.deepEqual(events, ['stopped']);
  const last = h.hub.of('dev-1', 'status').at(-1);
  assert.deepEqual(last?.json, { online: false, ts: h.clock.now(), reason: 'stopped' });
  assert.equal(last?.retain, true);
  await agent.stop(); // idempotent
});

test('a connection that dies abruptly makes the broker publish the last will (retained offline)', async (t) => {
  const h = await harness(t);
  const proxy = await h.proxy();
  const { agent } = h.agent({ hubUrl: proxy.url, dataDir: null });
  const reasons: string[] = [];
  agent.events.on('disconnected', ({ reason }) => reasons.push(reason));
  await agent.start();
  await waitFor(() => agent.connected);
  proxy.cut();
  const will = await waitFor(() =>
    h.hub.of('dev-1', 'status').find((m) => (m.json as { online: boolean }).online === false),
  );
  assert.deepEqual(will.json, { online: false, reason: 'connection lost' });
  assert.equal(will.retain, true);
  await waitFor(() => !agent.connected);
  assert.equal(reasons.length, 1);
});

test('start() fails clearly without credentials', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ id: undefined, token: undefined });
  await assert.rejects(agent.start(), { code: 'ERR_CREDENTIALS_MISSING' });
});
