// Update files and their signed manifests, on the hub's disk. Files are content-addressed
// (`blobs/<sha256>`): an upload streams to a temp file while it is hashed, and is renamed into
// place only when its hash is the one it was sent under, so a blob on disk is always whole and
// right. Manifests are kept per name and version (`manifests/<name>/<version>.json`), immutable
// once pushed. Serving goes through the file path (range requests resume downloads).

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Artifact, canonicalJson, HomeostatError, type SignedManifest } from '@homeostat/protocol';

export class ArtifactStore {
  readonly #dir: string;
  readonly #maxBytes: number;

  /** `maxBytes`: the largest file accepted, bytes. */
  constructor(dir: string, maxBytes: number) {
    this.#dir = dir;
    this.#maxBytes = maxBytes;
  }

  blobPath(sha256: string): string {
    return join(this.#dir, 'blobs', sha256);
  }

  /** The size of a stored blob, or undefined. */
  async blobSize(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(sha256))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Streams an upload to disk; keeps it only if its SHA-256 is `sha256`. */
  async putBlob(sha256: string, body: Readable): Promise<{ sha256: string; size: number }> {
    const blobs = join(this.#dir, 'blobs');
    await mkdir(blobs, { recursive: true });
    const temp = join(blobs, `.upload-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const max = this.#maxBytes;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            size += chunk.length;
            if (size > max) throw new HomeostatError('ERR_PAYLOAD_TOO_LARGE', `the file is over the ${max}-byte limit`);
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp),
      );
      const actual = hash.digest('hex');
      if (actual !== sha256) {
        throw new HomeostatError('ERR_BLOB_MISMATCH', `the uploaded bytes have sha256 ${actual}, not ${sha256}`);
      }
      await rename(temp, this.blobPath(sha256));
      return { sha256, size };
    } finally {
      await rm(temp, { force: true });
    }
  }

  /**
   * Stores a signed manifest whose blob is here with the size and hash it states. Pushing the
   * same manifest again is a no-op; another manifest under the same name and version is refused.
   */
  async putManifest(
    manifest: SignedManifest,
    pushedBy: string,
    now: number,
  ): Promise<{ artifact: Artifact; created: boolean }> {
    const { name, version, sha256, size } = manifest.signed;
    const stored = await this.blobSize(sha256);
    if (stored === undefined)
      throw new HomeostatError('ERR_BLOB_NOT_FOUND', `upload the file (sha256 ${sha256}) first`);
    if (stored !== size) {
      throw new HomeostatError('ERR_BLOB_MISMATCH', `the manifest says ${size} bytes, the file has ${stored}`);
    }
    const existing = await this.get(name, version);
    if (existing !== undefined) {
      if (canonicalJson(existing.manifest) === canonicalJson(manifest)) return { artifact: existing, created: false };
      throw new HomeostatError('ERR_ARTIFACT_EXISTS', `${name} ${version} exists with another manifest`);
    }
    const artifact: Artifact = { name, version, manifest, pushedAt: now, pushedBy };
    const dir = join(this.#dir, 'manifests', name);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${version}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify(artifact));
    await rename(`${file}.tmp`, file);
    return { artifact, created: true };
  }

  async get(name: string, version: string): Promise<Artifact | undefined> {
    try {
      return JSON.parse(await readFile(join(this.#dir, 'manifests', name, `${version}.json`), 'utf8')) as Artifact;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Every version of every artifact (or of one name), oldest push first. */
  async list(name?: string): Promise<Artifact[]> {
    const root = join(this.#dir, 'manifests');
    const names = name !== undefined ? [name] : await readdir(root).catch(() => [] as string[]);
    const out: Artifact[] = [];
    for (const n of names) {
      const files = await readdir(join(root, n)).catch(() => [] as string[]);
      for (const f of files.filter((x) => x.endsWith('.json'))) {
        const a = await this.get(n, f.slice(0, -'.json'.length));
        if (a !== undefined) out.push(a);
      }
    }
    return out.sort((x, y) => x.pushedAt - y.pushedAt || x.name.localeCompare(y.name));
  }
}
