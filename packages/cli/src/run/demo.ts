// `homeostat demo` (what `npm start` runs): a hub on the embedded defaults and a simulated fleet
// of about twenty devices connected to it over real MQTT, until Ctrl-C.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { openOrInitKeys } from '../commands/keys.js';
import { configPath, readConfig, writeConfig } from '../config.js';
import type { CliIo } from '../io.js';
import { intFlag, portOrFree, untilSignal } from './common.js';

interface DemoFlags {
  data: string;
  devices: number;
  timeScale: number;
  fresh?: boolean;
}

/** How long the demo's devices trust its signing keys, ms. */
const KEYS_EXPIRE_MS = 365 * 24 * 3600_000;
/** How often the demo prints the fleet's state, ms. */
const REPORT_MS = 15_000;
const HOST = '127.0.0.1';

export function registerDemo(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('run a hub and a simulated fleet on this machine (what `npm start` runs)')
    .option('--data <dir>', 'data directory of the demo', '.homeostat/demo')
    .option('--devices <n>', 'about how many simulated devices', intFlag('--devices', 1, 10_000), 20)
    .option(
      '--time-scale <n>',
      'simulated seconds per second, so batteries drain and bearings wear visibly',
      intFlag('--time-scale', 1, 3600),
      60,
    )
    .option('--fresh', 'start from an empty data directory')
    .action(async (flags: DemoFlags) => {
      if (flags.fresh) rmSync(flags.data, { recursive: true, force: true });
      const [
        { Hub, DEFAULT_CONFIG, DEMO_POLICIES, DEMO_AUTONOMY, HUB_POLICIES },
        { SimFleet, DEMO_DESIRED, DEVICE_LOOP_POLICIES, HEATER_REMOTE, demoDeployments, loadPumpModel },
        { createLogger },
      ] = await Promise.all([import('@homeostat/hub'), import('@homeostat/sim'), import('@homeostat/kit')]);
      const httpPort = await portOrFree(8080, HOST);
      const mqttPort = await portOrFree(1883, HOST);
      const logger = createLogger({
        name: 'demo',
        level: io.env.HOMEOSTAT_LOG_LEVEL ?? 'warn',
        destination: process.stderr,
      });
      const hub = new Hub(
        {
          ...DEFAULT_CONFIG,
          listen: HOST,
          httpPort,
          mqttPort,
          dataDir: join(flags.data, 'hub'),
          heartbeatMs: 1000,
          adminToken: null,
        },
        { logger, processMetrics: true },
      );
      const started = await hub.start();
      const { devices, tokens } = hub.services;
      // The admin token is shown once by the hub's first start; later demo runs issue a fresh one.
      let adminToken = started.initialAdminToken;
      if (adminToken === null) {
        await tokens.delete('demo').catch(() => {});
        adminToken = (await tokens.create('demo', 'admin')).secret;
      }
      // The workloads: the pump model's file in the hub's artifact store (devices fetch it by
      // hash), the deployments that put the rules and the model on the devices, and the fleet's
      // policies with the degrees they run at, the hub's own among them (it ships them; the demo
      // declares them, so a change to them shows here).
      const model = loadPumpModel();
      await hub.services.artifacts.putBlob(model.onnx.sha256, Readable.from([Buffer.from(model.onnx.bytes)]));
      const deployed = demoDeployments(model, { timeScale: flags.timeScale });
      for (const d of deployed) await hub.services.deployments.put(d.name, d.request);
      for (const p of [...DEMO_POLICIES, ...HUB_POLICIES]) {
        await hub.autonomic.putPolicy(p.name, { labels: p.labels, spec: p.spec });
      }
      await hub.autonomic.putAutonomy(DEMO_AUTONOMY);
      // The fleet's update trust: a root key its devices are provisioned with and the list of
      // signing keys it signed, so a release signed with the demo's signing key installs.
      const keysDir = join(flags.data, 'keys');
      const keys = await openOrInitKeys(io, keysDir, KEYS_EXPIRE_MS);
      const fleet = new SimFleet({
        hubUrl: started.mqttUrl,
        apiUrl: started.httpUrl,
        devices: flags.devices,
        timeScale: flags.timeScale,
        dataDir: join(flags.data, 'devices'),
        heartbeatMs: 1000,
        sampleMs: 1000,
        logger,
        rootKey: keys.root,
        provisioning: {
          kind: 'credentials',
          async provide(device) {
            const put = await devices.put(device.name, {
              labels: device.labels,
              // Heaters follow their room's thermostat, whose room-heating rule calls for heat; each
              // kind runs its device loop (safe mode off the hub, battery guard, adaptive sampling).
              desired: {
                ...DEMO_DESIRED[device.kind],
                ...(device.kind === 'heater' ? HEATER_REMOTE : {}),
                ...DEVICE_LOOP_POLICIES[device.kind],
                trust: keys.trusted,
              },
            });
            const token = put.created ? put.token : (await devices.rotateToken(device.name)).token;
            return { id: device.name, token };
          },
        },
      });
      await fleet.start();

      const loggedIn = await logInTheCli(io, started.httpUrl, adminToken);
      const moved = [httpPort === 8080 ? '' : '8080', mqttPort === 1883 ? '' : '1883'].filter(Boolean);
      io.stdout(
        [
          '',
          'Homeostat demo',
          `  hub API     ${started.httpUrl}   (OpenAPI: ${started.httpUrl}/openapi.json, metrics: ${started.httpUrl}/metrics)`,
          `  hub MQTT    ${started.mqttUrl}`,
          ...(moved.length > 0
            ? [`  (port ${moved.join(' and ')} taken on this machine: free ports were picked instead)`]
            : []),
          `  admin token ${adminToken}`,
          `  fleet       ${fleet.devices.length} simulated devices (rooms, mowers, pumps), time ×${flags.timeScale}`,
          `  workloads   deployments ${deployed.map((d) => d.name).join(', ')}; ${DEMO_POLICIES.length} fleet policies, ${HUB_POLICIES.length} for the hub itself`,
          `  update keys ${keysDir} (sign a release with --key ${keys.signingKeyFile})`,
          `  data        ${flags.data}`,
          '',
          loggedIn
            ? `The CLI is logged in to this hub (${configPath(io)}). Try, in another terminal:`
            : `Log the CLI in with: npx homeostat login --server ${started.httpUrl} --token ${adminToken}\nThen try:`,
          '  npx homeostat get devices',
          '  npx homeostat get deployments',
          `  npx homeostat get modules --device ${fleet.devices.find((d) => d.kind === 'pump')?.name ?? 'pump-01'}`,
          '  npx homeostat decisions',
          `  npx homeostat describe device ${fleet.devices[0]?.name ?? 'room-01-thermostat'}`,
          `  npx homeostat twin set ${fleet.devices.find((d) => d.kind === 'heater')?.name ?? 'room-01-heater'} setpoint=22`,
          `  npx homeostat telemetry ${fleet.devices.find((d) => d.kind === 'pump')?.name ?? 'pump-01'} --metric vibration.max --since 5m`,
          `  curl -H "Authorization: Bearer $TOKEN" ${started.httpUrl}/api/v1/devices`,
          '',
          'Ctrl-C stops the demo.',
          '',
        ].join('\n'),
      );

      const report = setInterval(() => {
        const c = hub.services.liveness.counts();
        io.stdout(`fleet: ${c.online} online, ${c.suspect} suspect, ${c.offline} offline, ${c.unknown} unknown\n`);
      }, REPORT_MS);
      report.unref();
      const signal = await untilSignal();
      clearInterval(report);
      io.stdout(`${signal}: stopping the fleet and the hub\n`);
      await fleet.stop();
      await hub.stop();
    });
}

/** Saves the demo's server and token for the CLI, unless that would replace a login to another hub. */
async function logInTheCli(io: CliIo, server: string, token: string): Promise<boolean> {
  let current: Awaited<ReturnType<typeof readConfig>> = null;
  try {
    current = await readConfig(io);
  } catch {
    return false;
  }
  if (current !== null && !/^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(current.server)) return false;
  await writeConfig(io, { server, token });
  return true;
}
