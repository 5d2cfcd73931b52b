// An artifact manifest for tests of what hands manifests on (a store, the rollout controller):
// shaped like a signed one, signed by nobody. Only a device checks signatures.

import type { ArtifactManifest, SignedManifest } from '@homeostat/protocol';

export function unsignedManifest(fields: Partial<ArtifactManifest> = {}): SignedManifest {
  return {
    signed: {
      type: 'artifact',
      name: 'fw',
      version: '1.1.0',
      targetModels: ['m1'],
      sha256: 'a'.repeat(64),
      size: 1,
      createdAt: 0,
      expiresAt: 4_000_000_000_000,
      ...fields,
    },
    signatures: [{ keyId: '0123456789abcdef', sig: 'x'.repeat(86) }],
  };
}
