// The HTTP API over a real socket: auth and roles, device lifecycle, errors, system routes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN, startTestHub, type TestHub } from './harness.js';

describe('http api', () => {
  let t: TestHub;
  let viewer: string;
  let operator: string;
  before(async () => {
    t = await startTestHub();
    viewer = (await t.api('POST', '/api/v1/tokens', { name: 'viewer', role: 'viewer' })).body.secret;
    operator = (await t.api('POST', '/api/v1/tokens', { name: 'operator', role: 'operator' })).body.secret;
  });
  after(() => t.close());

  test('no token is 401, an unknown token is 401, a weaker role is 403', async () => {
    const none = await t.api('GET', '/api/v1/devices', undefined, null);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'ERR_AUTH_MISSING');
    const bad = await t.api('GET', '/api/v1/devices', undefined, 'hsa_not-a-token');
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error.code, 'ERR_AUTH_INVALID');
    const forbidden = await t.api('POST', '/api/v1/devices', { name: 'x1' }, viewer);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.error.code, 'ERR_AUTH_FORBIDDEN');
    assert.equal((await t.api('GET', '/api/v1/devices', undefined, viewer)).status, 200);
    assert.equal((await t.api('GET', '/api/v1/tokens', undefined, operator)).status, 403);
    assert.deepEqual((await t.api('GET', '/api/v1/whoami', undefined, operator)).body, {
      name: 'operator',
      role: 'operator',
    });
  });

  test('a device is created once, with its token shown once, then read, listed by selector and deleted', async () => {
    const created = await t.api('POST', '/api/v1/devices', { name: 'pump-7', labels: { site: 'paris' } }, operator);
    assert.equal(created.status, 201);
    assert.match(created.body.token, /^hsd_/);
    assert.equal(created.body.device.metadata.name, 'pump-7');
    assert.equal(created.body.device.status.liveness.state, 'unknown');
    assert.equal(created.body.device.status.liveness.evidence.kind, 'never-seen');
    const again = await t.api('POST', '/api/v1/devices', { name: 'pump-7' }, operator);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'ERR_DEVICE_EXISTS');
    const got = await t.api('GET', '/api/v1/devices/pump-7');
    assert.equal(got.status, 200);
    assert.equal(JSON.stringify(got.body).includes(created.body.token), false, 'the token is never shown again');
    await t.api('POST', '/api/v1/devices', { name: 'pump-8', labels: { site: 'lyon' } }, operator);
    const paris = await t.api('GET', '/api/v1/devices?selector=site%3Dparis');
    assert.deepEqual(
      paris.body.items.map((d: { metadata: { name: string } }) => d.metadata.name),
      ['pump-7'],
    );
    const badSelector = await t.api('GET', '/api/v1/devices?selector=bad%20key%3D1');
    assert.equal(badSelector.status, 400);
    assert.equal((await t.api('DELETE', '/api/v1/devices/pump-7', undefined, operator)).status, 204);
    const gone = await t.api('GET', '/api/v1/devices/pump-7');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'ERR_DEVICE_NOT_FOUND');
  });

  test('PUT creates then updates labels, like apply', async () => {
    const first = await t.api('PUT', '/api/v1/devices/room-1', { labels: { site: 'a' }, desired: { setpoint: 20 } });
    assert.equal(first.status, 201);
    assert.ok(first.body.token);
    assert.equal(first.body.device.twin.desired.version, 1);
    const second = await t.api('PUT', '/api/v1/devices/room-1', { labels: { site: 'b' } });
    assert.equal(second.status, 200);
    assert.deepEqual(second.body.metadata.labels, { site: 'b' });
    assert.equal(second.body.token, undefined);
    assert.equal(second.body.twin.desired.version, 1, 'no desired given: unchanged');
    const same = await t.api('PUT', '/api/v1/devices/room-1', { labels: { site: 'b' }, desired: { setpoint: 20 } });
    assert.equal(same.body.twin.desired.version, 1, 'the same desired state: no new version');
    const changed = await t.api('PUT', '/api/v1/devices/room-1', { labels: { site: 'b' }, desired: { mode: 'eco' } });
    assert.deepEqual(changed.body.twin.desired.state, { mode: 'eco' }, 'a declared desired state replaces the old one');
    assert.equal(changed.body.twin.desired.version, 2);
  });

  test('bad input gets a precise error and the server keeps serving', async () => {
    const badName = await t.api('POST', '/api/v1/devices', { name: 'Bad Name!' });
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error.code, 'ERR_VALIDATION');
    assert.ok(
      badName.body.error.details.some((d: string) => d.startsWith('body/name')),
      badName.body.error.details,
    );
    const extra = await t.api('POST', '/api/v1/devices', { name: 'ok-name', colour: 'red' });
    assert.equal(extra.status, 400);
    assert.ok(extra.body.error.details.some((d: string) => d.includes('colour')));
    const wrongType = await t.api('POST', '/api/v1/devices', { name: 'ok-name', labels: { site: 5 } });
    assert.equal(wrongType.status, 400);
    const badJson = await t.api('POST', '/api/v1/devices', '{"name": ');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.error.code, 'ERR_BAD_JSON');
    const huge = await t.api('POST', '/api/v1/devices', { name: 'big', labels: { a: 'x'.repeat(2 * 1024 * 1024) } });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'ERR_PAYLOAD_TOO_LARGE');
    const text = await fetch(`${t.started.httpUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' },
      body: 'name=x',
    });
    assert.equal(text.status, 415);
    assert.equal(((await text.json()) as { error: { code: string } }).error.code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    const noRoute = await t.api('GET', '/api/v1/nothing-here');
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.body.error.code, 'ERR_NOT_FOUND');
    assert.equal((await t.api('GET', '/api/v1/devices')).status, 200);
  });

  test('health, readiness, metrics and the OpenAPI document need no token', async () => {
    assert.deepEqual((await t.api('GET', '/healthz', undefined, null)).body, { status: 'ok' });
    const ready = await t.api('GET', '/readyz', undefined, null);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { store: 'ok', mqtt: 'ok' });
    const metrics = await t.api('GET', '/metrics', undefined, null);
    assert.match(metrics.body, /# TYPE homeostat_http_requests_total counter/);
    const devices = (await t.api('GET', '/api/v1/devices')).body.items.length as number;
    const unknown = Number(/homeostat_devices\{liveness="unknown"\} (\d+)/.exec(metrics.body)?.[1]);
    assert.equal(unknown, devices, 'devices never seen are counted as unknown');
    const openapi = await t.api('GET', '/openapi.json', undefined, null);
    assert.equal(openapi.body.openapi, '3.1.0');
    assert.ok(openapi.body.paths['/api/v1/devices/{name}/twin/desired'].patch);
    assert.ok(openapi.body.components.securitySchemes.bearer);
  });

  test('the initial admin token is the one given, and only its hash is stored', async () => {
    const { store } = t.hub.services;
    const tokens = await store.listApiTokens();
    assert.ok(tokens.some((x) => x.name === 'admin' && x.role === 'admin'));
    assert.equal(JSON.stringify(tokens).includes(ADMIN), false);
  });
});
