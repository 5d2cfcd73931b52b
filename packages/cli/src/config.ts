// Where the CLI finds the hub and its token. Each value comes from the first of: the flag
// (`--server`, `--token`), the environment (HOMEOSTAT_SERVER, HOMEOSTAT_TOKEN), then the file
// written by `homeostat login`. The file's token is only sent to the file's server, so pointing
// `--server` at another hub never leaks the saved token to it.

import { join } from 'node:path';
import { CliError, UsageError } from './errors.js';
import type { CliIo } from './io.js';

/** The config file holds a secret: only its owner may read it. */
export const CONFIG_FILE_MODE = 0o600;

export interface CliConfig {
  server: string;
  token: string;
}

export interface Connection {
  server: string;
  token: string;
}

export interface ConnectionFlags {
  server?: string | undefined;
  token?: string | undefined;
}

const LOGIN_HINT = 'run `homeostat login --server URL --token TOKEN`, or pass --server and --token';

/** $HOMEOSTAT_CONFIG, else $XDG_CONFIG_HOME/homeostat/config.json, else ~/.config/homeostat/config.json. */
export function configPath(io: Pick<CliIo, 'env' | 'homeDir'>): string {
  const explicit = io.env.HOMEOSTAT_CONFIG;
  if (explicit) return explicit;
  const xdg = io.env.XDG_CONFIG_HOME;
  const base = xdg ? xdg : join(io.homeDir, '.config');
  return join(base, 'homeostat', 'config.json');
}

/** The saved config, or null when there is no file; a damaged file is an error, not "logged out". */
export async function readConfig(io: CliIo): Promise<CliConfig | null> {
  const path = configPath(io);
  let text: string;
  try {
    text = await io.readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(`cannot read the config file ${path} (${(err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the config file ${path} is not valid JSON (${(err as Error).message})`, [
      `fix it or log in again: ${LOGIN_HINT}`,
    ]);
  }
  const problems: string[] = [];
  const obj =
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  if (obj === null) problems.push('/: must be an object');
  else {
    if (typeof obj.server !== 'string' || obj.server === '') problems.push('/server: must be a non-empty string');
    if (typeof obj.token !== 'string' || obj.token === '') problems.push('/token: must be a non-empty string');
  }
  if (obj === null || problems.length > 0) {
    throw new CliError(`the config file ${path} is invalid`, [...problems, `fix it or log in again: ${LOGIN_HINT}`]);
  }
  return { server: obj.server as string, token: obj.token as string };
}

/** Saves the config with mode 0600 and returns where it went. */
export async function writeConfig(io: CliIo, config: CliConfig): Promise<string> {
  const path = configPath(io);
  await io.writeFile(path, `${JSON.stringify(config, null, 2)}\n`, CONFIG_FILE_MODE);
  return path;
}

/** Checks a hub base URL and drops trailing slashes so paths join cleanly. */
export function normalizeServer(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`invalid server URL ${JSON.stringify(raw)}: expected e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`invalid server URL ${JSON.stringify(raw)}: only http and https are supported`);
  }
  return raw.replace(/\/+$/, '');
}

/** The server from flag or env alone (login must not fall back on the file it is about to replace). */
export function serverFromFlagsOrEnv(io: CliIo, flags: ConnectionFlags): string | undefined {
  const raw = flags.server ?? nonEmpty(io.env.HOMEOSTAT_SERVER);
  return raw === undefined ? undefined : normalizeServer(raw);
}

/** Resolves the server and token for a hub request, or says how to log in. */
export async function resolveConnection(io: CliIo, flags: ConnectionFlags): Promise<Connection> {
  const explicitServer = serverFromFlagsOrEnv(io, flags);
  const explicitToken = flags.token ?? nonEmpty(io.env.HOMEOSTAT_TOKEN);
  // Read the file only when something is missing: a broken file should not block explicit flags.
  const file = explicitServer !== undefined && explicitToken !== undefined ? null : await readConfig(io);
  const fileServer = file ? normalizeServer(file.server) : undefined;
  const server = explicitServer ?? fileServer;
  if (server === undefined) {
    throw new CliError('no hub server configured', [LOGIN_HINT, 'or set HOMEOSTAT_SERVER and HOMEOSTAT_TOKEN']);
  }
  const token = explicitToken ?? (file && fileServer === server ? file.token : undefined);
  if (token === undefined) {
    const why = file ? ` (the saved token is for ${fileServer})` : '';
    throw new CliError(`no API token for ${server}${why}`, [LOGIN_HINT, 'or set HOMEOSTAT_TOKEN']);
  }
  return { server, token };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
