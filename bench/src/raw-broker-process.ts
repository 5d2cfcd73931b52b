// The bare broker (`raw-broker.ts`, aedes with none of the hub's work) in a child process of its
// own, so its CPU and memory are its own: started here, its address read from its stdout, stopped
// with SIGTERM (so a `--cpu-prof` profile is written). The `ingest` benchmark measures its raw
// forwarding rate; `inference` uses it for the network hop to the hub.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withDeadline } from './harness.js';
import { REPO_ROOT, stopChild } from './hub-process.js';

const RAW_BROKER = fileURLToPath(new URL('./raw-broker.js', import.meta.url));
/** Wait for the raw broker to print its address (and for a client to subscribe to it), in ms. */
export const START_DEADLINE_MS = 30_000;

export interface RawBroker {
  pid: number;
  url: string;
  stop(): Promise<void>;
  kill(): void;
}

export async function startRawBroker(nodeFlags: readonly string[], graceMs: number): Promise<RawBroker> {
  const child = spawn(process.execPath, [...nodeFlags, RAW_BROKER], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.trim()) process.stderr.write(`  raw broker: ${line}\n`);
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    const url = await withDeadline(printedUrl(child), START_DEADLINE_MS, 'starting the raw broker');
    if (child.pid === undefined) throw new Error('raw broker: no pid');
    return { pid: child.pid, url, kill, stop: () => stopChild(child, graceMs, 'raw broker') };
  } catch (err) {
    kill();
    throw err;
  }
}

function printedUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`raw broker: exited before it was ready (code ${code}, signal ${signal})`));
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const url = /^raw broker (mqtt:\/\/127\.0\.0\.1:\d+)$/m.exec(buffered)?.[1];
      if (url === undefined) return;
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.stdout?.resume();
      resolve(url);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}
