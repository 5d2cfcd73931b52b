// What the device trusts, and the checks an update must pass before a byte of it is installed.
// The device is provisioned with the root public key only. The root signs the list of signing
// keys (so they can be rotated without touching devices); a signing key signs each artifact's
// manifest. A manifest is accepted when a trusted key's signature verifies, it has not expired,
// it targets this device's model, and its version is above the highest the device has ever
// installed (kept durably, so neither a downgrade nor a replayed old manifest gets through).
// Each refusal has its own code from the protocol's catalogue.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { verifyMessage } from '@homeostat/kit';
import {
  type ArtifactManifest,
  canonicalJson,
  compareVersions,
  type PublicKey,
  parser,
  type Signature,
  SignedManifest,
  SignedTrustedKeys,
  type TrustedKeys,
} from '@homeostat/protocol';
import { AgentError } from '../errors.js';
import { type DurableRecord, FileRecord, MemoryRecord } from './record.js';

const parseTrusted = parser(SignedTrustedKeys);
const parseManifest = parser(SignedManifest);

/** What the trust store keeps on disk (`trust.json` in the data directory). */
interface TrustState {
  trusted: SignedTrustedKeys | null;
  /** Highest version installed per artifact name, ever. */
  installed: Record<string, string>;
}

export interface TrustStoreOptions {
  /** The root public key the device was provisioned with. */
  root: PublicKey;
  /** Where trust.json lives; null keeps it in memory (simulator). */
  dataDir: string | null;
}

export const TRUST_FILE = 'trust.json';

export class TrustStore {
  readonly #root: PublicKey;
  readonly #record: DurableRecord<TrustState>;
  #state: TrustState;

  constructor(options: TrustStoreOptions) {
    this.#root = options.root;
    this.#record = options.dataDir === null ? new MemoryRecord() : new FileRecord(join(options.dataDir, TRUST_FILE));
    // A damaged file throws here rather than reset the highest installed versions to nothing
    // (that would let a downgrade through): the agent refuses to start instead.
    const value = this.#record.read();
    this.#state = { trusted: value?.trusted ?? null, installed: value?.installed ?? {} };
  }

  /** The signing keys trusted now (none until a list signed by the root has been accepted). */
  get trustedKeys(): TrustedKeys | null {
    return this.#state.trusted?.signed ?? null;
  }

  highestInstalled(name: string): string | null {
    return this.#state.installed[name] ?? null;
  }

  /**
   * Accepts a new trusted-keys list: signed by the root, not expired, and newer than the one held
   * (the same version again is accepted only if it is the same document).
   */
  acceptTrustedKeys(doc: unknown, now: number): TrustedKeys {
    const parsed = parseTrusted.parse(doc);
    if (!parsed.ok) throw new AgentError('ERR_TRUST_INVALID', `trusted keys: ${parsed.errors.join('; ')}`);
    const list = parsed.value;
    if (!signedBy(list.signed, list.signatures, [this.#root])) {
      throw new AgentError('ERR_TRUST_INVALID', `trusted keys: no valid signature by the root key ${this.#root.keyId}`);
    }
    if (list.signed.expiresAt <= now) {
      throw new AgentError('ERR_TRUST_EXPIRED', `trusted keys version ${list.signed.version} expired`);
    }
    const held = this.#state.trusted?.signed;
    if (held !== undefined) {
      const same = canonicalJson(held) === canonicalJson(list.signed);
      if (list.signed.version < held.version || (list.signed.version === held.version && !same)) {
        throw new AgentError(
          'ERR_TRUST_ROLLBACK',
          `trusted keys version ${list.signed.version} is not newer than version ${held.version} held`,
        );
      }
      if (same) return held;
    }
    this.#state = { ...this.#state, trusted: list };
    this.#record.write(this.#state);
    return list.signed;
  }

  /** Checks a signed manifest for this device; returns the manifest or throws with the reason's code. */
  verifyManifest(doc: unknown, device: { model: string }, now: number): ArtifactManifest {
    const signed = this.verifySignature(doc, now);
    if (signed.expiresAt <= now) {
      throw new AgentError('ERR_UPDATE_EXPIRED', `${signed.name} ${signed.version}: the manifest expired`);
    }
    if (!signed.targetModels.includes(device.model)) {
      throw new AgentError(
        'ERR_UPDATE_WRONG_TARGET',
        `${signed.name} ${signed.version} targets ${signed.targetModels.join(', ')}, not ${device.model}`,
      );
    }
    const highest = this.highestInstalled(signed.name);
    if (highest !== null) {
      const order = compareVersions(signed.version, highest);
      if (order < 0) {
        throw new AgentError('ERR_UPDATE_DOWNGRADE', `${signed.name} ${signed.version} is older than ${highest}`);
      }
      if (order === 0) {
        throw new AgentError('ERR_UPDATE_REPLAYED', `${signed.name} ${signed.version} is installed already`);
      }
    }
    return signed;
  }

  /**
   * Only that a trusted signing key signed the manifest (its schema, the keys list in date, the
   * signature): what a revert needs of the manifest of a version the device already runs.
   */
  verifySignature(doc: unknown, now: number): ArtifactManifest {
    const parsed = parseManifest.parse(doc);
    if (!parsed.ok) throw new AgentError('ERR_UPDATE_MANIFEST_INVALID', `manifest: ${parsed.errors.join('; ')}`);
    const { signed, signatures } = parsed.value;
    const trusted = this.#state.trusted?.signed;
    if (trusted === undefined) throw new AgentError('ERR_UPDATE_UNTRUSTED_KEY', 'no trusted signing keys yet');
    if (trusted.expiresAt <= now) {
      throw new AgentError('ERR_TRUST_EXPIRED', `trusted keys version ${trusted.version} expired`);
    }
    const byTrusted = signatures.filter((s) => trusted.keys.some((k) => k.keyId === s.keyId));
    if (byTrusted.length === 0) {
      throw new AgentError(
        'ERR_UPDATE_UNTRUSTED_KEY',
        `signed by ${signatures.map((s) => s.keyId).join(', ')}, none of them trusted`,
      );
    }
    if (!signedBy(signed, byTrusted, trusted.keys)) {
      throw new AgentError('ERR_UPDATE_SIGNATURE', `the signature of ${signed.name} ${signed.version} does not verify`);
    }
    return signed;
  }

  /** Records a committed install: from now on nothing at or below this version is accepted. */
  recordInstalled(manifest: Pick<ArtifactManifest, 'name' | 'version'>): void {
    const highest = this.highestInstalled(manifest.name);
    if (highest !== null && compareVersions(manifest.version, highest) <= 0) return;
    this.#state = { ...this.#state, installed: { ...this.#state.installed, [manifest.name]: manifest.version } };
    this.#record.write(this.#state);
  }
}

/** Checks a downloaded file against its manifest: size first (a truncated download), then hash. */
export function verifyArtifactBytes(manifest: Pick<ArtifactManifest, 'name' | 'size' | 'sha256'>, bytes: Buffer): void {
  if (bytes.length !== manifest.size) {
    throw new AgentError(
      'ERR_UPDATE_SIZE',
      `${manifest.name}: ${bytes.length} bytes, the manifest says ${manifest.size}`,
    );
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== manifest.sha256) {
    throw new AgentError('ERR_UPDATE_HASH', `${manifest.name}: sha256 ${sha256}, the manifest says ${manifest.sha256}`);
  }
}

/** True when one of `signatures` is a valid signature of `signed` by one of `keys`. */
function signedBy(signed: unknown, signatures: readonly Signature[], keys: readonly PublicKey[]): boolean {
  const message = canonicalJson(signed);
  return signatures.some((s) => {
    const key = keys.find((k) => k.keyId === s.keyId);
    return key !== undefined && verifyMessage(message, s.sig, key.publicKey);
  });
}
