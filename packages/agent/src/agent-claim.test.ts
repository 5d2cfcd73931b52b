// Zero-touch provisioning against a real broker with a fake claim responder: credentials granted
// and stored (mode 0600), the agent continuing as the device; a refusal and a silent hub reject
// start() with a code.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '@homeostat/testing';
import { loadCredentials } from './link/credentials.js';
import { harness } from './test-support.js';

const CLAIM_TOKEN = 'hsc_claim-me';
const REQUEST = /^homeostat\/v1\/_claim\/([^/]+)\/request$/;

/** Answers claim requests like the hub would; `answer` decides per request. */
function respondToClaims(
  h: Awaited<ReturnType<typeof harness>>,
  answer: (request: { name?: string; serial?: string }) => unknown,
): { requests: unknown[] } {
  const requests: unknown[] = [];
  h.broker.aedes.on('publish', (packet) => {
    const match = REQUEST.exec(packet.topic);
    if (!match) return;
    const request = JSON.parse(packet.payload.toString()) as { name?: string };
    requests.push(request);
    void h.hub.publish(`homeostat/v1/_claim/${match[1]}/response`, answer(request));
  });
  return { requests };
}

test('claims an identity, stores it with mode 0600 and connects as the device', async (t) => {
  const tokens = new Map([['_claim', CLAIM_TOKEN]]);
  const h = await harness(t, {
    authenticate: (_client, username, password, done) => {
      const ok = username !== undefined && tokens.get(username) === password?.toString();
      done(null, ok);
    },
  });
  const { requests } = respondToClaims(h, (request) => {
    tokens.set('kitchen-1', 'hsd_granted');
    return { ok: true, deviceId: request.name ?? 'dev-x', token: 'hsd_granted' };
  });
  const { agent } = h.agent({
    id: undefined,
    token: undefined,
    claim: CLAIM_TOKEN,
    name: 'kitchen-1',
    serial: 'SN-42',
  });
  const granted: string[] = [];
  agent.events.on('credentials', ({ deviceId }) => granted.push(deviceId));
  await agent.start();
  assert.equal(requests.length, 1);
  const { nonce, ...rest } = requests[0] as { nonce?: string };
  assert.deepEqual(rest, { name: 'kitchen-1', serial: 'SN-42' });
  assert.match(nonce ?? '', /^[0-9a-f]{32}$/, 'a random nonce makes retries of this claim safe');
  assert.deepEqual(granted, ['kitchen-1']);
  assert.equal(agent.id, 'kitchen-1');

  const file = join(h.dataDir, 'credentials.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { deviceId: 'kitchen-1', token: 'hsd_granted' });
  await waitFor(() => agent.connected, { message: 'connects with the granted credentials' });
  await waitFor(() => h.hub.of('kitchen-1', 'status').length === 1);
  await agent.stop();

  // The next start uses the stored credentials; no new claim.
  const again = h.agent({ id: undefined, token: undefined, claim: CLAIM_TOKEN });
  await again.agent.start();
  await waitFor(() => again.agent.connected);
  assert.equal(requests.length, 1);
  assert.deepEqual(loadCredentials(h.dataDir), { deviceId: 'kitchen-1', token: 'hsd_granted' });
});

test('a refused claim rejects start() with the code the hub sent, and stores nothing', async (t) => {
  const h = await harness(t);
  respondToClaims(h, () => ({ ok: false, error: { code: 'ERR_CLAIM_EXHAUSTED', message: 'group is full' } }));
  const { agent } = h.agent({ id: undefined, token: undefined, claim: CLAIM_TOKEN, name: 'pump-9' });
  await assert.rejects(agent.start(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_CLAIM_EXHAUSTED');
    assert.match(err.message, /group is full/);
    assert.doesNotMatch(err.message, new RegExp(CLAIM_TOKEN));
    return true;
  });
  assert.equal(loadCredentials(h.dataDir), undefined);
});

test('a claim token refused at connect time rejects start() with ERR_CLAIM_INVALID', async (t) => {
  const h = await harness(t, { authenticate: (_c, _u, _p, done) => done(null, false) });
  const { agent } = h.agent({ id: undefined, token: undefined, claim: 'wrong' });
  await assert.rejects(agent.start(), { code: 'ERR_CLAIM_INVALID' });
});

test('a claim without an answer times out after 10 s on the clock', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ id: undefined, token: undefined, claim: CLAIM_TOKEN });
  const started = agent.start();
  const outcome = started.then(
    () => 'resolved',
    (err: Error & { code?: string }) => err.code,
  );
  let settled = false;
  void outcome.then(() => {
    settled = true;
  });
  await h.clock.advance(9_999);
  assert.equal(settled, false, 'still waiting before 10 s');
  await h.clock.advance(1);
  assert.equal(await outcome, 'ERR_CLAIM_TIMEOUT');
});

test('stop() while a claim is pending ends it: start() rejects and nothing keeps running', async (t) => {
  const h = await harness(t);
  const { agent } = h.agent({ id: undefined, token: undefined, claim: CLAIM_TOKEN });
  const started = agent.start();
  await agent.stop();
  await assert.rejects(started, /stopped while starting/);
  assert.equal(h.clock.pending, 0, 'no timer left behind');
  await assert.rejects(agent.start(), /while stopped/);
});
