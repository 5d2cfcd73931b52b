// The CLI's window on the world. Commands touch the terminal, the environment, the network,
// files and the clock only through this object, so tests run the whole program in-process.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';

export interface CliIo {
  /** Text for standard output; callers include the newlines. */
  stdout(text: string): void;
  /** Text for standard error; callers include the newlines. */
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  fetch: typeof fetch;
  /** Reads a UTF-8 file; rejects with the fs error (code ENOENT when missing). */
  readFile(path: string): Promise<string>;
  /** A file as a stream, to upload it without holding it in memory. */
  fileStream(path: string): ReadableStream<Uint8Array>;
  /** SHA-256 (hex) and size of a file of any size, read as a stream. */
  hashFile(path: string): Promise<{ sha256: string; size: number }>;
  /** Writes a UTF-8 file with `mode`, creating its directory (0700) and fixing the mode of an existing file. */
  writeFile(path: string, data: string, mode: number): Promise<void>;
  /** Reads standard input to its end. */
  readStdin(): Promise<string>;
  homeDir: string;
  /** Milliseconds since the Unix epoch; only used to show ages and to turn `--since` into a time. */
  now(): number;
  /** Waits, between two polls of a command that watches (`rollout status -w`). */
  sleep(ms: number): Promise<void>;
}

/** The real thing, with any member replaced (tests keep the file system and swap the rest). */
export function nodeIo(overrides: Partial<CliIo> = {}): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    fetch: globalThis.fetch,
    readFile: (path) => readFile(path, 'utf8'),
    fileStream: (path) => Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
    hashFile: async (path) => {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of createReadStream(path)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      return { sha256: hash.digest('hex'), size };
    },
    writeFile: async (path, data, mode) => {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(path, data, { encoding: 'utf8', mode });
      // `mode` only applies when the file is created; an older file may be wider open.
      await chmod(path, mode);
    },
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    homeDir: homedir(),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    ...overrides,
  };
}
