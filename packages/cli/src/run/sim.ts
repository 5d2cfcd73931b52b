// `homeostat sim`: N real agents on simulated hardware in one process, until Ctrl-C. Devices
// enroll themselves with a claim token, or are created through the API with the plan's labels.

import type { Command } from 'commander';
import { HubClient } from '../client.js';
import { resolveConnection } from '../config.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { intFlag, untilSignal } from './common.js';

interface SimFlags {
  hub: string;
  devices: number;
  kinds: string;
  claim?: string;
  api?: boolean;
  data: string;
  memory?: boolean;
  seed: number;
  timeScale: number;
  heartbeatMs: number;
  sampleMs: number;
}

const KINDS = ['thermostat', 'mower', 'pump'] as const;

export function registerSim(program: Command, io: CliIo): void {
  program
    .command('sim')
    .description('run a simulated fleet: real agents on simulated rooms, mowers and pumps')
    .requiredOption('--hub <url>', 'the hub MQTT URL, e.g. mqtt://127.0.0.1:1883')
    .option(
      '--devices <n>',
      'about how many devices (a room is a thermostat and a heater)',
      intFlag('--devices', 1, 100_000),
      20,
    )
    .option('--kinds <list>', `unit kinds to mix: ${KINDS.join(',')}`, KINDS.join(','))
    .option('--claim <token>', 'enroll with this claim token (or env HOMEOSTAT_CLAIM_TOKEN)')
    .option('--api', 'create the devices through the API (with --server/--token or `homeostat login`), labels included')
    .option('--data <dir>', 'where each device keeps its outbox and credentials', '.homeostat/sim')
    .option('--memory', 'keep outboxes in memory (large fleets, benchmarks)')
    .option('--seed <n>', 'seed of the simulation', intFlag('--seed', 0, 2 ** 31), 1)
    .option('--time-scale <n>', 'simulated seconds per second', intFlag('--time-scale', 1, 3600), 1)
    .option('--heartbeat-ms <n>', 'heartbeat interval, ms', intFlag('--heartbeat-ms', 100, 3_600_000), 1000)
    .option('--sample-ms <n>', 'sampling interval, ms', intFlag('--sample-ms', 10, 3_600_000), 1000)
    .action(async (flags: SimFlags, command: Command) => {
      const kinds = flags.kinds.split(',').map((k) => k.trim());
      const unknown = kinds.filter((k) => !(KINDS as readonly string[]).includes(k));
      if (unknown.length > 0) throw new UsageError(`unknown kinds: ${unknown.join(', ')}; use ${KINDS.join(', ')}`);
      const claim = flags.claim ?? io.env.HOMEOSTAT_CLAIM_TOKEN;
      if (!claim && !flags.api)
        throw new UsageError('give --claim TOKEN, or --api to create the devices through the API');
      const { SimFleet } = await import('@homeostat/sim');
      let provisioning: import('@homeostat/sim').Provisioning;
      if (claim) {
        provisioning = { kind: 'claim', claimToken: claim };
      } else {
        const connection = await resolveConnection(io, command.optsWithGlobals());
        const client = new HubClient(io, connection.server, connection.token);
        provisioning = {
          kind: 'credentials',
          async provide(device) {
            const put = await client.putDevice(device.name, { labels: device.labels });
            const token = put.created ? put.token : (await client.rotateDeviceToken(device.name)).token;
            return { id: device.name, token };
          },
        };
      }
      const fleet = new SimFleet({
        hubUrl: flags.hub,
        devices: flags.devices,
        kinds: kinds as (typeof KINDS)[number][],
        seed: flags.seed,
        timeScale: flags.timeScale,
        provisioning,
        dataDir: flags.memory ? null : flags.data,
        heartbeatMs: flags.heartbeatMs,
        sampleMs: flags.sampleMs,
      });
      await fleet.start();
      io.stdout(`${fleet.devices.length} simulated devices started against ${flags.hub}\n`);
      const signal = await untilSignal();
      io.stdout(`${signal}: stopping\n`);
      await fleet.stop();
    });
}
