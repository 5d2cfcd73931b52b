// Updates through a real agent: desired `trust` and `update` published on a real broker, the
// artifact downloaded over HTTP, the outcome read back from what the agent reports (reported
// `update`, `firmware`, `trust`) and the events it raises. The clock is fake: probe windows pass
// in milliseconds.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newSigningKey } from '@homeostat/kit';
import { applyMergePatch, type ReportedUpdate } from '@homeostat/protocol';
import { MemoryBootSlots } from './ota/memory-slots.js';
import { type Release, ReleaseFixture } from './ota/release-fixture.js';
import { advanceUntil, type Harness, harness } from './test-support.js';

const FACTORY = { name: 'sim-fw', version: '1.0.0' };

async function setup(t: Parameters<typeof harness>[0], overrides: Parameters<Harness['agent']>[0] = {}) {
  const h = await harness(t);
  const releases = new ReleaseFixture(() => h.clock.now());
  await releases.start();
  h.defer(() => releases.close());
  const { agent } = h.agent({
    apiUrl: releases.url,
    rootKey: releases.rootKey,
    model: 'pm-400',
    firmware: FACTORY,
    updateProbe: { windowMs: 10_000, everyMs: 1000, minUpMs: 2000 },
    ...overrides,
  });
  await agent.start();
  await advanceUntil(h.clock, 100, () => agent.connected, 'connected');
  let desiredVersion = 0;
  /** The reported state, as the hub would hold it: every patch applied in order. */
  const reported = () =>
    h.hub
      .of('dev-1', 'twin/reported')
      .reduce<Record<string, unknown>>(
        (state, m) => applyMergePatch(state, (m.json as { state: unknown }).state) as Record<string, unknown>,
        {},
      );
  const update = () => reported().update as ReportedUpdate | undefined;
  const eventCodes = () =>
    h.hub.of('dev-1', 'events').flatMap((m) => (Array.isArray(m.json) ? m.json : [m.json]).map((e) => e.code));
  const desire = (state: Record<string, unknown>) =>
    h.hub.publishDesired('dev-1', { version: ++desiredVersion, state });
  const ask = (r: Release, trust = releases.trustedKeys()) =>
    desire({ trust, update: { manifest: r.manifest, rollout: 'fw-rollout' } });
  /** Waits for the outcome of `version` (a terminal state), advancing the clock. */
  const outcome = async (version: string) => {
    await advanceUntil(
      h.clock,
      500,
      () => {
        const u = update();
        return u?.version === version && ['committed', 'rolled-back', 'refused'].includes(u.state);
      },
      `the outcome of ${version}`,
    );
    return update() as ReportedUpdate;
  };
  return { h, agent, releases, reported, update, eventCodes, desire, ask, outcome };
}

test('a desired update is installed and committed; the device reports the new firmware', async (t) => {
  const s = await setup(t);
  await advanceUntil(s.h.clock, 100, () => s.reported().firmware !== undefined, 'firmware reported at start');
  assert.deepEqual(s.reported().firmware, FACTORY);
  await s.ask(s.releases.release('1.1.0'));
  const done = await s.outcome('1.1.0');
  assert.equal(done.state, 'committed');
  assert.equal(done.rollout, 'fw-rollout');
  assert.equal(done.code ?? null, null, 'a merge patch drops nulls: no code');
  assert.deepEqual(s.reported().firmware, { name: 'sim-fw', version: '1.1.0' });
  assert.deepEqual(s.reported().trust, { version: 1 });
  await advanceUntil(s.h.clock, 100, () => s.eventCodes().includes('UPDATE_COMMITTED'), 'UPDATE_COMMITTED raised');

  // Restarted with the update still desired: nothing is installed again.
  await s.agent.stop();
  const { agent } = s.h.agent({
    apiUrl: s.releases.url,
    rootKey: s.releases.rootKey,
    model: 'pm-400',
    firmware: FACTORY,
  });
  await agent.start();
  await advanceUntil(s.h.clock, 100, () => agent.connected, 'reconnected');
  s.h.clock.advance(20_000);
  assert.equal(s.update()?.state, 'committed');
  assert.deepEqual(s.reported().firmware, { name: 'sim-fw', version: '1.1.0' });
});

test('a release that fails its probe, or crashes on boot, is rolled back by the device itself', async (t) => {
  const s = await setup(t);
  await s.ask(s.releases.release('1.1.0', 'fail-probe'));
  const failed = await s.outcome('1.1.0');
  assert.equal(failed.state, 'rolled-back');
  assert.equal(failed.code, 'ERR_UPDATE_PROBE_FAILED');
  assert.match(failed.reason ?? '', /its own health check fails/);
  assert.deepEqual(s.reported().firmware, FACTORY);

  await s.ask(s.releases.release('1.2.0', 'crash-on-boot'));
  const crashed = await s.outcome('1.2.0');
  assert.equal(crashed.state, 'rolled-back');
  assert.equal(crashed.code, 'ERR_UPDATE_INTERRUPTED');
  assert.deepEqual(s.reported().firmware, FACTORY);

  // A good release after two bad ones goes through.
  await s.ask(s.releases.release('1.3.0'));
  assert.equal((await s.outcome('1.3.0')).state, 'committed');
  await advanceUntil(
    s.h.clock,
    100,
    () => s.eventCodes().filter((c) => c === 'UPDATE_ROLLED_BACK').length === 2,
    'two UPDATE_ROLLED_BACK events',
  );
});

test('every bad input is refused with its own code, reported, and the device keeps its version', async (t) => {
  const s = await setup(t, { slots: new MemoryBootSlots({ slotBytes: 1000 }) });
  const r = s.releases;
  const stranger = newSigningKey();
  const tampered = r.release('2.0.1');
  r.served.set(tampered.manifest.signed.sha256, Buffer.from(tampered.bytes.toString().replace('2.0.1', '2.9.9')));
  const truncated = r.release('2.0.8');
  r.served.set(truncated.manifest.signed.sha256, truncated.bytes.subarray(0, 10));
  const altered = r.release('2.0.2');
  altered.manifest.signed.version = '2.0.3'; // changed after signing
  const cases: [string, Release, string][] = [
    ['tampered artifact', tampered, 'ERR_UPDATE_HASH'],
    ['wrong signature', altered, 'ERR_UPDATE_SIGNATURE'],
    ['untrusted key', r.release('2.0.4', 'ok', {}, stranger), 'ERR_UPDATE_UNTRUSTED_KEY'],
    ['downgrade', r.release('0.9.0'), 'ERR_UPDATE_DOWNGRADE'],
    ['replayed old manifest', r.release('1.0.0'), 'ERR_UPDATE_REPLAYED'],
    ['expired manifest', r.release('2.0.5', 'ok', { expiresAt: s.h.clock.now() - 1 }), 'ERR_UPDATE_EXPIRED'],
    ['wrong target model', r.release('2.0.6', 'ok', { targetModels: ['mw-300'] }), 'ERR_UPDATE_WRONG_TARGET'],
    ['truncated download', truncated, 'ERR_UPDATE_SIZE'],
    ['disk full while staging', r.release('2.0.9', 'ok', {}, r.signing, Buffer.alloc(5000, 1)), 'ERR_UPDATE_DISK_FULL'],
  ];
  for (const [what, release, code] of cases) {
    await s.ask(release);
    const refused = await s.outcome(release.manifest.signed.version);
    assert.equal(refused.state, 'refused', what);
    assert.equal(refused.code, code, what);
    assert.deepEqual(s.reported().firmware, FACTORY, `${what}: still on the factory version`);
  }
  await advanceUntil(
    s.h.clock,
    100,
    () => s.eventCodes().filter((c) => c === 'UPDATE_REFUSED').length === cases.length,
    'an UPDATE_REFUSED event per refusal',
  );
  // A trusted-keys list not signed by the root is refused too, and said so.
  await s.desire({
    trust: {
      ...r.trustedKeys(2),
      signatures: r.trustedKeys(2).signatures.map((x) => ({ ...x, keyId: stranger.keyId })),
    },
  });
  await advanceUntil(
    s.h.clock,
    100,
    () => (s.reported().trust as { error?: string }).error === 'ERR_TRUST_INVALID',
    'trust refused',
  );
});

test('an update withdrawn before its switch stops; the next one desired is taken', async (t) => {
  const s = await setup(t);
  let release!: () => void;
  const slow = s.releases.release('1.1.0');
  s.releases.held.set(slow.manifest.signed.sha256, new Promise<void>((resolve) => (release = resolve)));
  await s.ask(slow);
  await advanceUntil(s.h.clock, 100, () => s.update()?.step === 'check', 'downloading');
  await s.desire({ trust: s.releases.trustedKeys() });
  const stopped = await s.outcome('1.1.0');
  release();
  assert.equal(stopped.state, 'refused');
  assert.equal(stopped.code, 'ERR_UPDATE_WITHDRAWN');
  assert.deepEqual(s.reported().firmware, FACTORY);
  await s.ask(s.releases.release('1.2.0'));
  assert.equal((await s.outcome('1.2.0')).state, 'committed');
});

test('an agent without a root key refuses every update and says why', async (t) => {
  const s = await setup(t, { rootKey: undefined });
  await s.ask(s.releases.release('1.1.0'));
  const refused = await s.outcome('1.1.0');
  assert.equal(refused.code, 'ERR_UPDATE_UNTRUSTED_KEY');
  assert.match(refused.reason ?? '', /without a root key/);
  assert.deepEqual(s.reported().trust, { error: 'ERR_TRUST_INVALID' });
  assert.deepEqual(s.reported().firmware, FACTORY);
});

test('a revert takes a committed, revertible version back to the one before; never one signed to stay', async (t) => {
  const s = await setup(t);
  const revertible = { revertible: true };
  await s.ask(s.releases.release('1.1.0', 'ok', revertible));
  assert.equal((await s.outcome('1.1.0')).state, 'committed');
  const stays = s.releases.release('1.2.0');
  await s.ask(stays);
  assert.equal((await s.outcome('1.2.0')).state, 'committed');
  const revert = (r: Release) =>
    s.desire({
      trust: s.releases.trustedKeys(),
      update: { manifest: r.manifest, rollout: 'fw-rollout', revert: true },
    });
  const reportedAs = (version: string, state: string) =>
    advanceUntil(
      s.h.clock,
      100,
      () => s.update()?.version === version && s.update()?.state === state,
      `${version} ${state}`,
    );

  await revert(stays);
  await reportedAs('1.2.0', 'refused');
  assert.equal(s.update()?.code, 'ERR_UPDATE_NOT_REVERTIBLE');
  assert.deepEqual(s.reported().firmware, { name: 'sim-fw', version: '1.2.0' }, 'a version signed to stay stays');

  const fine = s.releases.release('1.3.0', 'ok', revertible);
  await s.ask(fine);
  assert.equal((await s.outcome('1.3.0')).state, 'committed');
  // A revert of a version the device does not run asks nothing of it.
  await revert(s.releases.release('1.1.0', 'ok', revertible));
  s.h.clock.advance(2000);
  assert.equal(s.update()?.version, '1.3.0');
  await revert(fine);
  await reportedAs('1.3.0', 'rolled-back');
  assert.equal(s.update()?.code, 'ERR_UPDATE_REVERTED');
  assert.deepEqual(s.reported().firmware, { name: 'sim-fw', version: '1.2.0' }, 'back on the version before');
  // The version left is still the highest installed: offered again, it is refused.
  await s.ask(s.releases.release('1.3.0', 'ok', { ...revertible, createdAt: s.h.clock.now() + 1 }));
  await reportedAs('1.3.0', 'refused');
  assert.equal(s.update()?.code, 'ERR_UPDATE_REPLAYED');
});
