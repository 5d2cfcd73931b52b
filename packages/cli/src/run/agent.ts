// `homeostat agent`: runs one real agent until Ctrl-C. Without hardware drivers on this
// machine, it runs on a simulated device of the chosen kind.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { intFlag, untilSignal } from './common.js';

interface AgentFlags {
  hub: string;
  apiUrl?: string;
  id?: string;
  token?: string;
  claim?: string;
  name?: string;
  data?: string;
  kind: string;
  heartbeatMs?: number;
  sampleMs?: number;
  reconnectMaxMs?: number;
  logLevel?: string;
  allowCommand: string[];
  rootKey?: string;
  firmware?: string;
  model?: string;
  probeWindowMs?: number;
}

const KINDS = ['thermostat', 'heater', 'mower', 'pump'];

export function registerAgent(program: Command, io: CliIo): void {
  program
    .command('agent')
    .description('run the device agent (on a simulated device of --kind)')
    .requiredOption('--hub <url>', 'the hub MQTT URL, e.g. mqtt://127.0.0.1:1883')
    .option('--id <id>', 'device name (with --token)')
    .option('--token <token>', 'device token (or env HOMEOSTAT_DEVICE_TOKEN, which stays out of process lists)')
    .option(
      '--claim <token>',
      'claim token of an enrollment group, for zero-touch provisioning (or env HOMEOSTAT_CLAIM_TOKEN)',
    )
    .option('--name <name>', 'name to ask for when claiming')
    .option('--data <dir>', 'data directory: outbox and credentials (default .homeostat/agent/<id or name>)')
    .option('--kind <kind>', `simulated hardware: ${KINDS.join(', ')}`, 'thermostat')
    .option('--heartbeat-ms <n>', 'heartbeat interval, ms', intFlag('--heartbeat-ms', 100, 3_600_000))
    .option('--sample-ms <n>', 'sampling interval, ms', intFlag('--sample-ms', 10, 3_600_000))
    .option(
      '--reconnect-max-ms <n>',
      'longest wait between two connection attempts, ms (default 30000; the waits grow from 500 ms, with jitter)',
      intFlag('--reconnect-max-ms', 100, 3_600_000),
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option(
      '--api-url <url>',
      "the hub's HTTP API, e.g. http://127.0.0.1:8080: model files and updates are downloaded from it",
    )
    .option(
      '--allow-command <path>',
      'a command process modules may run, as their specs name it (repeat for more; default none)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--root-key <file>',
      'the root public key updates are trusted under (root.pub.json of `homeostat keys init`)',
    )
    .option('--model <model>', 'the device model update manifests must target (default: the --kind)')
    .option('--firmware <name@version>', 'what the device runs before any update is installed (its factory image)')
    .option(
      '--probe-window-ms <n>',
      'how long a new version has to prove healthy before it is rolled back, ms (default 60000)',
      intFlag('--probe-window-ms', 1000, 3_600_000),
    )
    .action(async (flags: AgentFlags, command: Command) => {
      if (!KINDS.includes(flags.kind)) throw new UsageError(`--kind must be one of ${KINDS.join(', ')}`);
      // `--token` is also the program-wide API token option, which takes the value wherever it
      // stands; for `agent` it is the device token.
      const token =
        flags.token ?? (command.optsWithGlobals() as { token?: string }).token ?? io.env.HOMEOSTAT_DEVICE_TOKEN;
      const claim = flags.claim ?? io.env.HOMEOSTAT_CLAIM_TOKEN;
      const { Agent, loadCredentials } = await import('@homeostat/agent');
      // One directory per device: an outbox holds one device's readings, seq and twin.
      const dataDir = flags.data ?? join('.homeostat', 'agent', flags.id ?? flags.name ?? 'device');
      const stored = loadCredentials(dataDir);
      if (stored && flags.id && stored.deviceId !== flags.id) {
        throw new UsageError(`${dataDir} belongs to device ${stored.deviceId}, not ${flags.id}: give another --data`);
      }
      if (!stored && !claim && !(flags.id && token)) {
        throw new UsageError(
          'give --id and --token, or --claim (or run once with them: credentials are kept in --data)',
        );
      }
      const updates = await updateOptions(flags);
      const { createLogger } = await import('@homeostat/kit');
      const logger = createLogger({ name: 'agent', level: flags.logLevel ?? 'info', destination: process.stderr });
      const agent = new Agent({
        hubUrl: flags.hub,
        ...(flags.apiUrl ? { apiUrl: flags.apiUrl } : {}),
        ...(flags.id ? { id: flags.id } : {}),
        ...(token ? { token } : {}),
        ...(claim ? { claim } : {}),
        ...(flags.name ? { name: flags.name } : {}),
        dataDir,
        hardware: await simulatedHardware(flags.kind),
        logger,
        ...(flags.heartbeatMs !== undefined ? { heartbeatMs: flags.heartbeatMs } : {}),
        ...(flags.sampleMs !== undefined ? { sampleMs: flags.sampleMs } : {}),
        ...(flags.reconnectMaxMs !== undefined ? { backoff: { maxMs: flags.reconnectMaxMs } } : {}),
        allowCommands: flags.allowCommand,
        ...updates,
      });
      agent.events.on('connected', () => io.stdout(`connected to ${flags.hub} as ${agent.id}\n`));
      agent.events.on('disconnected', ({ reason }) => io.stdout(`disconnected: ${reason}\n`));
      await agent.start();
      const signal = await untilSignal();
      io.stdout(`${signal}: stopping\n`);
      await agent.stop();
    });
}

/** The agent's update options from the flags: the root key file, the model, the factory image, the probe. */
async function updateOptions(flags: AgentFlags) {
  const { parser, PublicKey } = await import('@homeostat/protocol');
  let rootKey: import('@homeostat/protocol').PublicKey | undefined;
  if (flags.rootKey !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(flags.rootKey, 'utf8'));
    } catch (err) {
      throw new UsageError(`--root-key ${flags.rootKey}: ${(err as Error).message}`);
    }
    const parsed = parser(PublicKey).parse(json);
    if (!parsed.ok) throw new UsageError(`--root-key ${flags.rootKey}: ${parsed.errors.join('; ')}`);
    rootKey = parsed.value;
  }
  const [name, version] = flags.firmware?.split('@') ?? [];
  if (flags.firmware !== undefined && (!name || !version)) throw new UsageError('--firmware must be name@version');
  const windowMs = flags.probeWindowMs;
  return {
    ...(rootKey ? { rootKey } : {}),
    ...(flags.model ? { model: flags.model } : {}),
    ...(name && version ? { firmware: { name, version } } : {}),
    // A short window (tests, demos) judges the new version after a quarter of it.
    ...(windowMs !== undefined ? { updateProbe: { windowMs, minUpMs: Math.min(5000, windowMs / 4) } } : {}),
  };
}

async function simulatedHardware(kind: string) {
  const sim = await import('@homeostat/sim');
  switch (kind) {
    case 'heater':
      return new sim.HeaterHardware(new sim.Room());
    case 'mower':
      return new sim.MowerHardware();
    case 'pump':
      return new sim.PumpHardware();
    default:
      return new sim.ThermostatHardware(new sim.Room());
  }
}
