// A hub in a child process, started through the real CLI (`homeostat hub`) on free ports of
// 127.0.0.1, with a fresh data directory and an admin token made for the run (or given ones and
// fixed ports, to start a hub again on what an earlier one stored). Its stdout names
// the API and MQTT addresses; its stderr (warnings and errors only) is passed through.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { progress } from './harness.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Wait for a profiled process to exit after SIGTERM (it writes the profile then), in ms. */
export const PROFILED_STOP_GRACE_MS = 120_000;
const CLI = join(REPO_ROOT, 'packages/cli/dist/main.js');

/** Wait for the hub to print its addresses, in ms. */
const START_TIMEOUT_MS = 30_000;
/** Wait after SIGTERM before SIGKILL, in ms (a CPU profile is written on a clean exit only). */
const STOP_GRACE_MS = 20_000;

export interface HubProcessOptions {
  /** Extra flags for node, e.g. --cpu-prof. */
  nodeFlags?: readonly string[];
  logLevel?: string;
  /** Wait after SIGTERM before SIGKILL, in ms; default 20 s (longer when a profile must be written). */
  stopGraceMs?: number;
  /**
   * An existing data directory, to start a hub again on what an earlier one stored; the caller
   * owns it (stop() leaves it). Default: a fresh temporary one, removed by stop().
   */
  dataDir?: string;
  /** The admin token; on a data directory that has one already, the same must be given. */
  adminToken?: string;
  /** Fixed ports on 127.0.0.1; default 0 (free ports chosen by the hub). */
  httpPort?: number;
  mqttPort?: number;
}

export interface HubProcess {
  pid: number;
  httpUrl: string;
  mqttUrl: string;
  adminToken: string;
  dataDir: string;
  /** SIGTERM, then SIGKILL after a grace period; removes the data directory (unless given). */
  stop(): Promise<void>;
  /** Synchronous last resort for process 'exit'. */
  kill(): void;
}

export async function startHubProcess(options: HubProcessOptions = {}): Promise<HubProcess> {
  const ownData = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'homeostat-bench-hub-'));
  const adminToken = options.adminToken ?? `bench-${randomBytes(24).toString('hex')}`;
  const args = [
    ...(options.nodeFlags ?? []),
    CLI,
    'hub',
    '--listen',
    '127.0.0.1',
    '--http-port',
    String(options.httpPort ?? 0),
    '--mqtt-port',
    String(options.mqttPort ?? 0),
    '--data',
    dataDir,
    '--log-level',
    options.logLevel ?? 'warn',
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, HOMEOSTAT_ADMIN_TOKEN: adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) process.stderr.write(`  hub: ${line}\n`);
  });
  const removeData = () => {
    if (ownData) rmSync(dataDir, { recursive: true, force: true });
  };
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    removeData();
  };
  try {
    const { httpUrl, mqttUrl } = await addresses(child);
    if (child.pid === undefined) throw new Error('hub: no pid');
    for (const url of [httpUrl, mqttUrl]) {
      if (new URL(url).hostname !== '127.0.0.1') throw new Error(`hub: expected a 127.0.0.1 address, got ${url}`);
    }
    return {
      pid: child.pid,
      httpUrl,
      mqttUrl,
      adminToken,
      dataDir,
      kill,
      stop: async () => {
        await stopChild(child, options.stopGraceMs ?? STOP_GRACE_MS);
        removeData();
      },
    };
  } catch (err) {
    kill();
    throw err;
  }
}

function addresses(child: ChildProcess): Promise<{ httpUrl: string; mqttUrl: string }> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let httpUrl: string | undefined;
    let mqttUrl: string | undefined;
    const timer = setTimeout(() => fail(new Error('hub: did not print its addresses within 30 s')), START_TIMEOUT_MS);
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`hub: exited before it was ready (code ${code}, signal ${signal})`));
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        httpUrl ??= /^hub API\s+(http:\/\/\S+)/.exec(line)?.[1];
        mqttUrl ??= /^hub MQTT\s+(mqtt:\/\/\S+)/.exec(line)?.[1];
        nl = buffered.indexOf('\n');
      }
      if (httpUrl !== undefined && mqttUrl !== undefined) {
        done();
        // Keep reading, so a chatty hub never blocks on a full pipe.
        child.stdout?.resume();
        resolve({ httpUrl, mqttUrl });
      }
    };
    const done = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    const fail = (err: Error) => {
      done();
      reject(err);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; `name` is for the progress line. */
export async function stopChild(child: ChildProcess, graceMs: number, name = 'hub'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    progress(`${name}: still running ${graceMs / 1000} s after SIGTERM; killing it`);
    child.kill('SIGKILL');
    await exited;
  }
}
