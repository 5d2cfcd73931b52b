// The `homeostat` binary as a user runs it: a real child process of the compiled CLI, with a
// minimal environment and a throwaway HOME, its output collected, every wait bounded, and a stop
// that always ends it (SIGTERM, then SIGKILL).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled `packages/cli/dist/main.js`, next to this file's `dist/e2e/`. */
export const CLI_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

/** How long a stop waits after SIGTERM before SIGKILL, ms. */
export const KILL_AFTER_MS = 5000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcessOptions {
  /** HOME and cwd of the child; HOMEOSTAT_CONFIG is `<home>/config.json`. A fresh temp dir by default. */
  home?: string;
  /** Added to (or, with `undefined`, removed from) the minimal environment. */
  env?: Record<string, string | undefined>;
}

export class CliProcess {
  readonly child: ChildProcess;
  readonly home: string;
  readonly configFile: string;
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;

  constructor(
    readonly args: readonly string[],
    options: CliProcessOptions = {},
  ) {
    this.home = options.home ?? tempDir('home');
    this.configFile = join(this.home, 'config.json');
    const env: Record<string, string> = {};
    const all = {
      PATH: process.env.PATH,
      HOME: this.home,
      HOMEOSTAT_CONFIG: this.configFile,
      ...options.env,
    };
    for (const [key, value] of Object.entries(all)) if (value !== undefined) env[key] = value;
    this.child = spawn(process.execPath, [CLI_MAIN, ...args], {
      cwd: this.home,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      // 'close' rather than 'exit': the output pipes are drained by then.
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once('error', () => {
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  /** What the process printed, for failure messages. */
  describe(): string {
    return `homeostat ${this.args.join(' ')}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr.slice(-4000)}`;
  }

  /** Resolves with the first match of `pattern` in stdout; rejects on timeout or when the process ends first. */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.match(pattern);
      if (match) return match;
      if (this.exit !== null) {
        throw new Error(`exited (${JSON.stringify(this.exit)}) before printing ${pattern}\n${this.describe()}`);
      }
      if (Date.now() >= deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms\n${this.describe()}`);
      await sleep(20);
    }
  }

  /** Waits for the process to end by itself, at most `timeoutMs`; then stops it and rejects. */
  async waitForExit(timeoutMs = 10_000): Promise<Exit> {
    const exit = await within(this.exited, timeoutMs);
    if (exit !== null) return exit;
    await this.stop();
    throw new Error(`did not exit within ${timeoutMs} ms\n${this.describe()}`);
  }

  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves with the exit and how long it took. */
  async stop(killAfterMs = KILL_AFTER_MS): Promise<Exit & { ms: number; killed: boolean }> {
    const start = Date.now();
    if (this.exit !== null) return { ...this.exit, ms: 0, killed: false };
    this.child.kill('SIGTERM');
    const exit = await within(this.exited, killAfterMs);
    if (exit !== null) return { ...exit, ms: Date.now() - start, killed: false };
    this.child.kill('SIGKILL');
    const killed = (await within(this.exited, 2000)) ?? { code: null, signal: null };
    return { ...killed, ms: Date.now() - start, killed: true };
  }
}

/** Starts `homeostat ARGS` and stops it when the test (or suite) ends, whatever happens. */
export function startCli(
  cleanup: { after(fn: () => Promise<unknown>): void },
  args: readonly string[],
  options: CliProcessOptions = {},
): CliProcess {
  const proc = new CliProcess(args, options);
  cleanup.after(() => proc.stop());
  return proc;
}

/** Runs `homeostat ARGS` to its end (at most `timeoutMs`). */
export async function runCliProcess(
  args: readonly string[],
  options: CliProcessOptions = {},
  timeoutMs = 10_000,
): Promise<{ exit: Exit; stdout: string; stderr: string }> {
  const proc = new CliProcess(args, options);
  const exit = await proc.waitForExit(timeoutMs);
  return { exit, stdout: proc.stdout, stderr: proc.stderr };
}

/** A hub run as `homeostat hub`, with its API address read from what it printed. */
export interface RunningHub {
  proc: CliProcess;
  httpUrl: string;
  mqttUrl: string;
}

// Generous: a process start on a loaded 2-core machine (tests run two files at once) can take seconds.
export async function waitForHubBanner(proc: CliProcess, timeoutMs = 45_000): Promise<RunningHub> {
  const http = await proc.waitForOutput(/^hub API +(http:\/\/127\.0\.0\.1:\d+)/m, timeoutMs);
  const mqtt = await proc.waitForOutput(/^hub MQTT +(mqtt:\/\/127\.0\.0\.1:\d+)/m, timeoutMs);
  return { proc, httpUrl: http[1]!, mqttUrl: mqtt[1]! };
}

const tempDirs: string[] = [];

/** A fresh directory under the system temp dir, removed by `removeTempDirs`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `homeostat-run-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made; call once every process is stopped. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** `promise`'s value, or null after `ms`; the timer is cleared so it never holds the test process open. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// biome-ignore lint/suspicious/noExplicitAny: tests read JSON answers field by field and fail loudly on a wrong shape
export type Json = any;

/** One HTTP call to a hub's API with a bearer token. */
export async function api(
  base: string,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let parsed: Json;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}
