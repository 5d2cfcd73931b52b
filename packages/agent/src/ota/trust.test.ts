import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { newSigningKey, type SigningKey, signMessage } from '@homeostat/kit';
import { type ArtifactManifest, canonicalJson, type TrustedKeys } from '@homeostat/protocol';
import { TRUST_FILE, TrustStore, verifyArtifactBytes } from './trust.js';

const NOW = 1_764_000_000_000;
const DAY = 86_400_000;

function sign<T>(signed: T, ...keys: SigningKey[]) {
  return {
    signed,
    signatures: keys.map((k) => ({ keyId: k.keyId, sig: signMessage(canonicalJson(signed), k.privateKeyPem) })),
  };
}

function trustedKeys(version: number, keys: SigningKey[], expiresAt = NOW + 365 * DAY): TrustedKeys {
  return {
    type: 'trusted-keys',
    version,
    expiresAt,
    keys: keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey })),
  };
}

const file = Buffer.from('firmware image 1.2.0\n');

function manifest(over: Partial<ArtifactManifest> = {}): ArtifactManifest {
  return {
    type: 'artifact',
    name: 'pump-firmware',
    version: '1.2.0',
    targetModels: ['pump-a1'],
    sha256: createHash('sha256').update(file).digest('hex'),
    size: file.length,
    createdAt: NOW - DAY,
    expiresAt: NOW + 30 * DAY,
    ...over,
  };
}

function setup() {
  const root = newSigningKey();
  const signing = newSigningKey();
  const store = new TrustStore({ root: { keyId: root.keyId, publicKey: root.publicKey }, dataDir: null });
  store.acceptTrustedKeys(sign(trustedKeys(1, [signing]), root), NOW);
  return { root, signing, store };
}

const device = { model: 'pump-a1' };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'accepted';
}

test('a manifest signed by a trusted key, for this model, newer and unexpired, is accepted', () => {
  const { signing, store } = setup();
  const accepted = store.verifyManifest(sign(manifest(), signing), device, NOW);
  assert.equal(accepted.version, '1.2.0');
  verifyArtifactBytes(accepted, file);
});

test('each way an update can be wrong is refused with its own code', () => {
  const { root, signing, store } = setup();
  const stranger = newSigningKey();
  const tampered = sign(manifest(), signing);
  tampered.signed.size += 1;
  const cases: [string, unknown, string][] = [
    ['not a manifest', { signed: { name: 'x' }, signatures: [] }, 'ERR_UPDATE_MANIFEST_INVALID'],
    ['signed by an unknown key', sign(manifest(), stranger), 'ERR_UPDATE_UNTRUSTED_KEY'],
    ['signed by the root, which signs keys, not artifacts', sign(manifest(), root), 'ERR_UPDATE_UNTRUSTED_KEY'],
    ['edited after signing', tampered, 'ERR_UPDATE_SIGNATURE'],
    ['expired', sign(manifest({ expiresAt: NOW - 1 }), signing), 'ERR_UPDATE_EXPIRED'],
    ['for another model', sign(manifest({ targetModels: ['mower-x'] }), signing), 'ERR_UPDATE_WRONG_TARGET'],
  ];
  for (const [what, doc, code] of cases)
    assert.equal(
      refusal(() => store.verifyManifest(doc, device, NOW)),
      code,
      what,
    );
  const ok = sign(manifest(), signing);
  const m = store.verifyManifest(ok, device, NOW);
  assert.equal(
    refusal(() => verifyArtifactBytes(m, file.subarray(0, 5))),
    'ERR_UPDATE_SIZE',
    'truncated download',
  );
  const evil = Buffer.from(file);
  evil[0] = 0x46;
  assert.equal(
    refusal(() => verifyArtifactBytes(m, evil)),
    'ERR_UPDATE_HASH',
    'tampered file',
  );
});

test('no downgrade and no replay: the highest installed version is kept across restarts', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-trust-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = newSigningKey();
  const signing = newSigningKey();
  const rootKey = { keyId: root.keyId, publicKey: root.publicKey };
  const first = new TrustStore({ root: rootKey, dataDir: dir });
  first.acceptTrustedKeys(sign(trustedKeys(1, [signing]), root), NOW);
  first.recordInstalled(first.verifyManifest(sign(manifest(), signing), device, NOW));

  const again = new TrustStore({ root: rootKey, dataDir: dir });
  assert.equal(again.highestInstalled('pump-firmware'), '1.2.0');
  assert.equal(
    refusal(() => again.verifyManifest(sign(manifest(), signing), device, NOW)),
    'ERR_UPDATE_REPLAYED',
  );
  const older = sign(manifest({ version: '1.1.9' }), signing);
  assert.equal(
    refusal(() => again.verifyManifest(older, device, NOW)),
    'ERR_UPDATE_DOWNGRADE',
  );
  assert.equal(again.verifyManifest(sign(manifest({ version: '1.10.0' }), signing), device, NOW).version, '1.10.0');
});

test('a damaged trust file refuses to start rather than forget the versions installed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-trust-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = newSigningKey();
  writeFileSync(join(dir, TRUST_FILE), '{"installed": {"pump-firmware": "1.2');
  assert.throws(
    () => new TrustStore({ root: { keyId: root.keyId, publicKey: root.publicKey }, dataDir: dir }),
    /damaged/,
  );
});

test('signing keys rotate through a root-signed list that never goes back', () => {
  const { root, signing, store } = setup();
  const next = newSigningKey();
  assert.equal(
    refusal(() => store.acceptTrustedKeys(sign(trustedKeys(2, [next]), next), NOW)),
    'ERR_TRUST_INVALID',
  );
  store.acceptTrustedKeys(sign(trustedKeys(2, [next]), root), NOW);
  assert.equal(
    refusal(() => store.verifyManifest(sign(manifest(), signing), device, NOW)),
    'ERR_UPDATE_UNTRUSTED_KEY',
  );
  assert.equal(store.verifyManifest(sign(manifest(), next), device, NOW).version, '1.2.0');
  // The old list, validly signed, is a rollback; so is another list under the same version.
  assert.equal(
    refusal(() => store.acceptTrustedKeys(sign(trustedKeys(1, [signing]), root), NOW)),
    'ERR_TRUST_ROLLBACK',
  );
  assert.equal(
    refusal(() => store.acceptTrustedKeys(sign(trustedKeys(2, [signing]), root), NOW)),
    'ERR_TRUST_ROLLBACK',
  );
  store.acceptTrustedKeys(sign(trustedKeys(2, [next]), root), NOW); // the same list again: fine
  const stale = sign(trustedKeys(3, [next], NOW - 1), root);
  assert.equal(
    refusal(() => store.acceptTrustedKeys(stale, NOW)),
    'ERR_TRUST_EXPIRED',
  );
  // A list that expires while held stops every update until a fresh one comes (no freeze attack).
  assert.equal(
    refusal(() => store.verifyManifest(sign(manifest(), next), device, NOW + 400 * DAY)),
    'ERR_TRUST_EXPIRED',
  );
});
