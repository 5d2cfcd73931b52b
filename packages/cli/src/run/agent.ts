// `homeostat agent`: runs one real agent until Ctrl-C. Without hardware drivers on this
// machine, it runs on a simulated device of the chosen kind.

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
      });
      agent.events.on('connected', () => io.stdout(`connected to ${flags.hub} as ${agent.id}\n`));
      agent.events.on('disconnected', ({ reason }) => io.stdout(`disconnected: ${reason}\n`));
      await agent.start();
      const signal = await untilSignal();
      io.stdout(`${signal}: stopping\n`);
      await agent.stop();
    });
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
