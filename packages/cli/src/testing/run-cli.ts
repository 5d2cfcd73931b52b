// Runs the real `homeostat` program in-process with captured output, a fixed clock, a private
// environment and a temporary home directory, for the CLI's tests (and the end-to-end ones).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliIo, nodeIo } from '../io.js';
import { buildProgram, runProgram } from '../program.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** The whole environment the program sees; nothing leaks in from the test process. */
  env?: Record<string, string | undefined>;
  /** What `-f -` and `--token-stdin` read. */
  stdin?: string;
  /** The fixed "now", in milliseconds since the epoch. */
  now?: number;
  /** The home directory (for ~/.config/homeostat); defaults to a path that does not exist. */
  homeDir?: string;
  /** Replaces the fetch implementation (e.g. to count requests). */
  fetch?: typeof fetch;
  /** Replaces the wait between two polls of a watching command. */
  sleep?: (ms: number) => Promise<void>;
}

/** A fixed instant the tests use as "now": 2025-01-01T12:00:00Z. */
export const TEST_NOW = Date.UTC(2025, 0, 1, 12, 0, 0);

export async function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = nodeIo({
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: options.env ?? {},
    readStdin: async () => options.stdin ?? '',
    homeDir: options.homeDir ?? '/nonexistent-home',
    now: () => options.now ?? TEST_NOW,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  const code = await runProgram(buildProgram(io), io, args);
  return { code, stdout, stderr };
}

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'homeostat-cli-'));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
