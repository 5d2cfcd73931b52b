// The `process` module kind: a supervised child process. Only a command on the agent's own
// allow-list may run (`allowCommands`, from `homeostat agent --allow-command`; empty by default):
// a deployment cannot make a device run anything its owner did not allow, and any other command is
// refused with the reason. The child gets PATH and the spec's env, not the agent's environment
// (which may hold the device token), and its module directory as working directory when the agent
// has a data directory. Its stdout and stderr lines go to the agent's log, rate-limited.
//
// An exit is a crash (code 0 is a clean exit: stopped under policy on-failure); health is the
// process being alive; stop is SIGTERM, then SIGKILL after stopTimeoutMs. Signals go to the child
// only: a command that starts children of its own must pass them on.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Clock } from '@homeostat/kit';
import type { ProcessConfig } from '@homeostat/protocol';
import { LineLimiter } from './log-lines.js';
import { ModuleExited, type ModuleKindRunner, ModuleRefused, type RunningModule } from './module.js';

const DEFAULT_STOP_TIMEOUT_MS = 5000;

export interface ProcessKindOptions {
  /** Commands (as written in specs, e.g. an absolute path) that process modules may run. */
  allowCommands: readonly string[];
}

export function processKind(options: ProcessKindOptions): ModuleKindRunner<'process'> {
  const allowed = new Set(options.allowCommands);
  return {
    kind: 'process',
    async start(spec, ctx) {
      const config = spec.config;
      if (!allowed.has(config.command)) {
        throw new ModuleRefused(
          allowed.size === 0
            ? `this agent allows no process modules (start it with --allow-command ${config.command})`
            : `command ${config.command} is not on this agent's allow-list`,
        );
      }
      if (ctx.dataDir !== null) mkdirSync(ctx.dataDir, { recursive: true });
      const child = spawn(config.command, config.args ?? [], {
        cwd: ctx.dataDir ?? undefined,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...config.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      // Later errors (a failed kill) must not go unhandled; the exit is what counts.
      child.on('error', (err) => ctx.logger.warn({ err: err.message }, 'process: error'));
      const lines = new LineLimiter(ctx.clock, ctx.logger);
      createInterface({ input: child.stdout! }).on('line', (l) => lines.line('stdout', l));
      createInterface({ input: child.stderr! }).on('line', (l) => lines.line('stderr', l));
      return new ProcessModule(child, config, (err) => ctx.crashed(err), ctx.clock);
    },
  };
}

class ProcessModule implements RunningModule {
  readonly #child: ChildProcess;
  readonly #config: ProcessConfig;
  readonly #clock: Clock;
  readonly #exited: Promise<void>;
  #stopping = false;

  constructor(child: ChildProcess, config: ProcessConfig, crashed: (err: Error) => void, clock: Clock) {
    this.#child = child;
    this.#config = config;
    this.#clock = clock;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        if (this.#stopping) return;
        crashed(
          code === 0
            ? new ModuleExited('the process exited with code 0')
            : new Error(`the process exited with ${signal !== null ? `signal ${signal}` : `code ${code}`}`),
        );
      });
    });
  }

  health() {
    const alive = this.#child.exitCode === null && this.#child.signalCode === null;
    return { healthy: alive, ...(alive ? {} : { detail: 'the process is not running' }) };
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = this.#clock.setTimeout(
      () => this.#child.kill('SIGKILL'),
      this.#config.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
    );
    await this.#exited;
    timer.cancel();
  }
}
