import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backoffDelay,
  FakeClock,
  hashToken,
  newSigningKey,
  newToken,
  sameHash,
  signMessage,
  sleep,
  verifyMessage,
} from './index.js';

test('fake clock fires timers in time order and repeats intervals', async () => {
  const clock = new FakeClock(0);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('b@20'), 20);
  clock.setTimeout(() => fired.push('a@10'), 10);
  const every = clock.setInterval(() => fired.push(`i@${clock.now()}`), 15);
  await clock.advance(31);
  every.cancel();
  await clock.advance(100);
  assert.deepEqual(fired, ['a@10', 'i@15', 'b@20', 'i@30']);
  assert.equal(clock.now(), 131);
});

test('sleep resolves on the fake clock and rejects on abort', async () => {
  const clock = new FakeClock(0);
  const done = sleep(clock, 1000);
  await clock.advance(1000);
  await done;
  const ac = new AbortController();
  const aborted = sleep(clock, 1000, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(aborted, /stop/);
  assert.equal(clock.pending, 0);
});

test('backoff grows exponentially up to its ceiling, with full jitter', () => {
  const top = { initialMs: 100, maxMs: 5000, random: () => 0.999999 };
  assert.deepEqual(
    [0, 1, 2, 3, 10].map((a) => backoffDelay(a, top)),
    [100, 200, 400, 800, 5000],
  );
  assert.equal(backoffDelay(3, { ...top, random: () => 0 }), 0);
});

test('tokens are random and only their hash is compared', () => {
  const t = newToken('hsd_');
  assert.match(t, /^hsd_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(t, newToken('hsd_'));
  assert.equal(sameHash(hashToken(t), hashToken(t)), true);
  assert.equal(sameHash(hashToken(t), hashToken(`${t}x`)), false);
});

test('signatures: verified with the raw public key, again from the parsed key, refused when anything differs', () => {
  const key = newSigningKey();
  const other = newSigningKey();
  const sig = signMessage('{"a":1}', key.privateKeyPem);
  for (let i = 0; i < 2; i++) {
    assert.equal(verifyMessage('{"a":1}', sig, key.publicKey), true, `check ${i + 1}`);
    assert.equal(verifyMessage('{"a":2}', sig, key.publicKey), false);
    assert.equal(verifyMessage('{"a":1}', sig, other.publicKey), false);
    assert.equal(verifyMessage('{"a":1}', sig, 'not-a-key'), false);
    assert.equal(verifyMessage('{"a":1}', sig, Buffer.alloc(32, 7).toString('base64url')), false);
  }
});
