// Model files cached by hash: a device keeps the models it was given in its data directory, so a
// restart (or a lost link) does not need the artifact again. Content-addressed, so a file is
// written once and never changes; every read is verified, and a file that fails (a bad sector, a
// torn write) is deleted and reported as missing rather than loaded.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HomeostatError } from '@homeostat/protocol';
import { type ModelBytes, sha256Hex, verifyModel } from './runner.js';

export interface ModelStore {
  /** Verifies the hash (ERR_MODEL_HASH_MISMATCH) and keeps the bytes. Idempotent. */
  put(model: ModelBytes): Promise<void>;
  /** The bytes of that hash, verified, or null when absent (or found corrupted and removed). */
  get(sha256: string): Promise<Uint8Array | null>;
  has(sha256: string): Promise<boolean>;
  delete(sha256: string): Promise<void>;
}

const HASH = /^[0-9a-f]{64}$/;

function key(sha256: string): string {
  const k = sha256.toLowerCase();
  // Validated because it becomes a file name.
  if (!HASH.test(k)) throw new HomeostatError('ERR_MODEL_HASH_MISMATCH', `not a SHA-256: ${JSON.stringify(sha256)}`);
  return k;
}

/** For an agent without a data directory (the simulator) and for tests. */
export class MemoryModelStore implements ModelStore {
  readonly #files = new Map<string, Uint8Array>();

  async put(model: ModelBytes): Promise<void> {
    verifyModel(model);
    this.#files.set(key(model.sha256), model.bytes.slice());
  }
  async get(sha256: string): Promise<Uint8Array | null> {
    return this.#files.get(key(sha256))?.slice() ?? null;
  }
  async has(sha256: string): Promise<boolean> {
    return this.#files.has(key(sha256));
  }
  async delete(sha256: string): Promise<void> {
    this.#files.delete(key(sha256));
  }
}

/** Files `<dir>/<sha256>.onnx`, written to a temporary name and renamed (atomic on POSIX). */
export class DirModelStore implements ModelStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async put(model: ModelBytes): Promise<void> {
    verifyModel(model);
    const path = this.#path(model.sha256);
    await mkdir(this.#dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, model.bytes, { mode: 0o644 });
    await rename(tmp, path);
  }

  async get(sha256: string): Promise<Uint8Array | null> {
    const path = this.#path(sha256);
    let bytes: Uint8Array;
    try {
      const buf = await readFile(path);
      bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if (sha256Hex(bytes) !== key(sha256)) {
      await rm(path, { force: true });
      return null;
    }
    return bytes;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.get(sha256)) !== null;
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.#path(sha256), { force: true });
  }

  #path(sha256: string): string {
    return join(this.#dir, `${key(sha256)}.onnx`);
  }
}
