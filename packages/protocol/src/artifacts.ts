// Signed update metadata, in the shape of TUF's signed documents: `{ signed, signatures }`, each
// signature an Ed25519 signature of the canonical JSON of `signed` by the key `keyId`. Two
// documents: the trusted-keys list (signed by the offline root key; devices are provisioned with
// the root's public key only, so signing keys can be rotated), and an artifact manifest (signed
// by a trusted signing key). Verification lives with the agent; the shapes live here.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { NAME_PATTERN } from './names.js';

/** MAJOR.MINOR.PATCH, each a whole number: versions are compared, never parsed loosely. */
export const VERSION_PATTERN = '^(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})\\.(0|[1-9][0-9]{0,8})$';
/** First 16 hex digits of the SHA-256 of the raw 32-byte Ed25519 public key. */
export const KEY_ID_PATTERN = '^[0-9a-f]{16}$';
export const SHA256_PATTERN = '^[0-9a-f]{64}$';

const Millis = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });

export const Signature = Type.Object(
  {
    keyId: Type.String({ pattern: KEY_ID_PATTERN }),
    sig: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$', description: 'Ed25519 signature, base64url' }),
  },
  { additionalProperties: false },
);
export type Signature = Static<typeof Signature>;

const Signed = <T extends TSchema>(signed: T) =>
  Type.Object(
    { signed, signatures: Type.Array(Signature, { minItems: 1, maxItems: 8 }) },
    { additionalProperties: false },
  );

export const PublicKey = Type.Object(
  {
    keyId: Type.String({ pattern: KEY_ID_PATTERN }),
    /** The raw 32-byte Ed25519 public key, base64url. */
    publicKey: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  },
  { additionalProperties: false },
);
export type PublicKey = Static<typeof PublicKey>;

export const TrustedKeys = Type.Object(
  {
    type: Type.Literal('trusted-keys'),
    /** Grows with every change: a device refuses a list older than the one it has (no rollback). */
    version: Type.Integer({ minimum: 1 }),
    /** A list past its expiry is refused, so a frozen (never updated) list cannot be replayed forever. */
    expiresAt: Millis,
    keys: Type.Array(PublicKey, { minItems: 1, maxItems: 32 }),
  },
  { additionalProperties: false },
);
export type TrustedKeys = Static<typeof TrustedKeys>;
export const SignedTrustedKeys = Signed(TrustedKeys);
export type SignedTrustedKeys = Static<typeof SignedTrustedKeys>;

export const ArtifactManifest = Type.Object(
  {
    type: Type.Literal('artifact'),
    name: Type.String({ pattern: NAME_PATTERN }),
    version: Type.String({ pattern: VERSION_PATTERN }),
    /** Device models (the `model` label) that may install it. */
    targetModels: Type.Array(Type.String({ pattern: NAME_PATTERN }), { minItems: 1, maxItems: 64 }),
    sha256: Type.String({ pattern: SHA256_PATTERN }),
    size: Type.Integer({ minimum: 0 }),
    createdAt: Millis,
    expiresAt: Millis,
    /**
     * The signer allows a device that committed this version to go back to the version it ran
     * before, when the hub asks (`revert` in the desired update: a rollout halted at a gate).
     * Absent or false: a device never leaves this version for an older one (sign security fixes so).
     */
    revertible: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ArtifactManifest = Static<typeof ArtifactManifest>;
export const SignedManifest = Signed(ArtifactManifest);
export type SignedManifest = Static<typeof SignedManifest>;

/** Compares two MAJOR.MINOR.PATCH versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** JSON with object keys sorted and no whitespace: the bytes a signature covers. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** An artifact as the hub stores it: the signed manifest, pushed after its file (blob). */
export const Artifact = Type.Object({
  name: Type.String(),
  version: Type.String(),
  manifest: SignedManifest,
  pushedAt: Millis,
  pushedBy: Type.String(),
});
export type Artifact = Static<typeof Artifact>;

export const ArtifactList = Type.Object({ items: Type.Array(Artifact) });
export type ArtifactList = Static<typeof ArtifactList>;

/** The answer to a blob upload: what the hub computed while it streamed the body to disk. */
export const BlobInfo = Type.Object({
  sha256: Type.String({ pattern: SHA256_PATTERN }),
  size: Type.Integer({ minimum: 0 }),
});
export type BlobInfo = Static<typeof BlobInfo>;

/**
 * `update` in a device's desired state: the artifact to run, as a rollout (or a person) asks.
 * The device checks the manifest itself (the hub is not trusted to have): signature, expiry,
 * target, version. `rollout` names who asked, echoed in the report.
 */
export const DesiredUpdate = Type.Object(
  {
    manifest: SignedManifest,
    rollout: Type.Optional(Type.String({ pattern: NAME_PATTERN })),
    /**
     * Go back from this version: a device that committed it returns to the version it ran before
     * (its other slot), when the manifest is `revertible`; a device still installing it stops
     * before the switch; any other device does nothing.
     */
    revert: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
export type DesiredUpdate = Static<typeof DesiredUpdate>;

export const UPDATE_STATES = [
  /** Checking the manifest, downloading, verifying, staging. */
  'installing',
  /** Switched; the new version is proving itself. */
  'probing',
  'committed',
  /** The new version failed its probe, or the device restarted on trial: back on the old one. */
  'rolled-back',
  /** Refused before the switch: the device never left its version. `code` says why. */
  'refused',
] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

/** `update` in the reported state: where the last requested update stands. */
export const ReportedUpdate = Type.Object({
  name: Type.String(),
  version: Type.String(),
  rollout: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union(UPDATE_STATES.map((s) => Type.Literal(s))),
  /** The step reached (`download`, `stage`, `probe`…), for progress. */
  step: Type.Union([Type.String(), Type.Null()]),
  code: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  at: Millis,
});
export type ReportedUpdate = Static<typeof ReportedUpdate>;

/** `firmware` in the reported state: what the device runs now. */
export const ReportedFirmware = Type.Object({ name: Type.String(), version: Type.String() });
export type ReportedFirmware = Static<typeof ReportedFirmware>;
