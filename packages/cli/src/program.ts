// The `homeostat` command tree for fleet management over the hub's HTTP API. `buildProgram`
// wires every command to an injected CliIo, and `runProgram` turns the outcome into an exit
// code (0 ok, 1 error, 2 usage), so tests run the real program in-process.

import { Command, CommanderError } from 'commander';
import { registerApply } from './commands/apply.js';
import { registerArtifacts } from './commands/artifacts.js';
import { registerAutonomy } from './commands/autonomy.js';
import { registerDecisions } from './commands/decisions.js';
import { registerDelete } from './commands/delete.js';
import { registerDescribe } from './commands/describe.js';
import { registerDevices } from './commands/devices.js';
import { registerExplain } from './commands/explain.js';
import { registerGet } from './commands/get.js';
import { registerIncidents } from './commands/incidents.js';
import { registerKeys } from './commands/keys.js';
import { registerLogin } from './commands/login.js';
import { registerRollout } from './commands/rollout.js';
import { registerTelemetry } from './commands/telemetry.js';
import { registerTokens } from './commands/tokens.js';
import { registerTwin } from './commands/twin.js';
import { ApiError, CliError, EXIT_ERROR, EXIT_OK, EXIT_USAGE, formatError } from './errors.js';
import type { CliIo } from './io.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('homeostat')
    .description('Homeostat: run the hub, an agent, the simulator; manage the fleet.')
    .option('--server <url>', 'hub API base URL, e.g. http://127.0.0.1:8080 (env HOMEOSTAT_SERVER)')
    .option('--token <token>', 'API token (env HOMEOSTAT_TOKEN; prefer `homeostat login`)')
    // Set before any subcommand is added: commander copies these settings into each one,
    // including the commands the lead's registerRunCommands adds later.
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .exitOverride()
    .showSuggestionAfterError();
  registerLogin(program, io);
  registerGet(program, io);
  registerDescribe(program, io);
  registerDelete(program, io);
  registerDevices(program, io);
  registerApply(program, io);
  registerTwin(program, io);
  registerTelemetry(program, io);
  registerTokens(program, io);
  registerKeys(program, io);
  registerArtifacts(program, io);
  registerDecisions(program, io);
  registerExplain(program, io);
  registerIncidents(program, io);
  registerAutonomy(program, io);
  registerRollout(program, io);
  return program;
}

/** Runs the program on the user's arguments (no `node` or script path) and returns the exit code. */
export async function runProgram(program: Command, io: CliIo, args: readonly string[]): Promise<number> {
  try {
    await program.parseAsync([...args], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    // Commander has already printed its own message (unknown option, missing argument, help).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (err instanceof CliError) {
      io.stderr(formatError(withHint(err)));
      return err.exitCode;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    io.stderr(`error: ${e.message}\n`);
    if (io.env.HOMEOSTAT_DEBUG) io.stderr(`${e.stack ?? ''}\n`);
    return EXIT_ERROR;
  }
}

/** Adds what to do next for the failures people hit most. */
function withHint(err: CliError): CliError {
  if (!(err instanceof ApiError)) return err;
  if (err.code === 'ERR_AUTH_MISSING' || err.code === 'ERR_AUTH_INVALID') {
    return new CliError(err.message, [
      ...err.details,
      'hint: log in again with `homeostat login --server URL --token TOKEN`',
    ]);
  }
  return err;
}
