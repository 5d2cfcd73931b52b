// Fixtures for the agent's update tests (not exported from the package): a root and a signing key,
// releases signed with them, and a small HTTP server that serves artifacts the way the hub does
// (`/api/v1/blobs/{sha256}`, range requests), where a test can tamper with, cut short or hold back
// what a device downloads.

import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newSigningKey, type SigningKey, signMessage } from '@homeostat/kit';
import { type ArtifactManifest, canonicalJson, type PublicKey, type SignedManifest } from '@homeostat/protocol';
import { type FirmwareHealth, firmwareImage } from './firmware-image.js';

export function signDoc<T>(signed: T, key: SigningKey): { signed: T; signatures: { keyId: string; sig: string }[] } {
  return { signed, signatures: [{ keyId: key.keyId, sig: signMessage(canonicalJson(signed), key.privateKeyPem) }] };
}

export const publicKeyOf = (key: SigningKey): PublicKey => ({ keyId: key.keyId, publicKey: key.publicKey });

export interface Release {
  manifest: SignedManifest;
  bytes: Buffer;
}

export class ReleaseFixture {
  readonly root = newSigningKey();
  readonly signing = newSigningKey();
  /** What the server sends for each sha256 (a test may replace it: tampered, truncated). */
  readonly served = new Map<string, Buffer>();
  /** Requests for these sha256 wait until the promise resolves. */
  readonly held = new Map<string, Promise<void>>();
  #server: Server | null = null;
  url = '';

  constructor(readonly now: () => number) {}

  get rootKey(): PublicKey {
    return publicKeyOf(this.root);
  }

  /** The root-signed list trusting the signing key. */
  trustedKeys(version = 1) {
    return signDoc(
      { type: 'trusted-keys', version, expiresAt: this.now() + 1e10, keys: [publicKeyOf(this.signing)] },
      this.root,
    );
  }

  /** A simulated firmware image, signed and served; `over` changes the manifest before signing. */
  release(
    version: string,
    health: FirmwareHealth = 'ok',
    over: Partial<ArtifactManifest> = {},
    key = this.signing,
    bytes = firmwareImage('sim-fw', version, health),
  ): Release {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.served.set(sha256, bytes);
    const signed: ArtifactManifest = {
      type: 'artifact',
      name: 'sim-fw',
      version,
      targetModels: ['pm-400'],
      sha256,
      size: bytes.length,
      createdAt: this.now(),
      expiresAt: this.now() + 1e9,
      ...over,
    };
    return { manifest: signDoc(signed, key), bytes };
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const sha = (req.url ?? '').split('/').pop() ?? '';
      const bytes = this.served.get(sha);
      if (bytes === undefined) {
        res.writeHead(404).end();
        return;
      }
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      void (this.held.get(sha) ?? Promise.resolve()).then(() => {
        res.writeHead(from > 0 ? 206 : 200).end(bytes.subarray(from));
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}
