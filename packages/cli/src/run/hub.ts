// `homeostat hub`: runs a hub until Ctrl-C. Flags override HOMEOSTAT_* variables.

import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { intFlag, untilSignal } from './common.js';

interface HubFlags {
  httpPort?: number;
  mqttPort?: number;
  data?: string;
  listen?: string;
  heartbeatMs?: number;
  logLevel?: string;
}

export function registerHub(program: Command, io: CliIo): void {
  program
    .command('hub')
    .description('run a hub: HTTP API, embedded MQTT broker, SQLite store')
    .option(
      '--http-port <n>',
      'HTTP API port (env HOMEOSTAT_HTTP_PORT, default 8080)',
      intFlag('--http-port', 0, 65535),
    )
    .option('--mqtt-port <n>', 'MQTT port (env HOMEOSTAT_MQTT_PORT, default 1883)', intFlag('--mqtt-port', 0, 65535))
    .option('--data <dir>', 'data directory (env HOMEOSTAT_DATA, default .homeostat/hub)')
    .option('--listen <addr>', 'address to bind (env HOMEOSTAT_LISTEN, default 127.0.0.1)')
    .option(
      '--heartbeat-ms <n>',
      'heartbeat interval assumed for devices that declare none',
      intFlag('--heartbeat-ms', 100, 3_600_000),
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error (env HOMEOSTAT_LOG_LEVEL)')
    .action(async (flags: HubFlags) => {
      const { Hub, configFromEnv } = await import('@homeostat/hub');
      const { createLogger } = await import('@homeostat/kit');
      const base = configFromEnv(io.env);
      const config = {
        ...base,
        ...(flags.httpPort !== undefined ? { httpPort: flags.httpPort } : {}),
        ...(flags.mqttPort !== undefined ? { mqttPort: flags.mqttPort } : {}),
        ...(flags.data !== undefined ? { dataDir: flags.data } : {}),
        ...(flags.listen !== undefined ? { listen: flags.listen } : {}),
        ...(flags.heartbeatMs !== undefined ? { heartbeatMs: flags.heartbeatMs } : {}),
        ...(flags.logLevel !== undefined ? { logLevel: flags.logLevel } : {}),
      };
      const logger = createLogger({ name: 'hub', level: config.logLevel, destination: process.stderr });
      const hub = new Hub(config, { logger, processMetrics: true });
      const started = await hub.start();
      io.stdout(`hub API   ${started.httpUrl}  (OpenAPI at ${started.httpUrl}/openapi.json)\n`);
      io.stdout(`hub MQTT  ${started.mqttUrl}\n`);
      io.stdout(`data      ${config.dataDir ?? '(in memory)'}\n`);
      if (started.initialAdminToken !== null) {
        const given = config.adminToken !== null;
        io.stdout(
          given
            ? 'admin token: the one given in HOMEOSTAT_ADMIN_TOKEN\n'
            : `admin token (shown once, only its hash is kept): ${started.initialAdminToken}\n`,
        );
        io.stdout(`log in with: homeostat login --server ${started.httpUrl} --token <admin token>\n`);
      }
      const signal = await untilSignal();
      io.stdout(`${signal}: stopping\n`);
      await hub.stop();
    });
}
