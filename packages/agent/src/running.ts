// What exists only between an agent's start() and stop(), and how it is wired: the hub link and
// its connection, the outbox's drainer and drop monitor, twin sync, commands, the module
// supervisor, the device loop, updates and the sampling timer.

import type { Clock, Logger, Timer, TypedEvents } from '@homeostat/kit';
import { type CommandResultMessage, type StatusMessage, topics } from '@homeostat/protocol';
import { type AgentEvents, type AgentOptions, backoffOf, type RaiseEventInput } from './agent-options.js';
import type { DeviceLoop } from './autonomic/loop.js';
import { deviceCapabilities } from './capabilities.js';
import { type CommandHandler, CommandRouter } from './commands.js';
import { withAgentKeys } from './edge/settings.js';
import { Connection } from './link/connection.js';
import type { DeviceCredentials } from './link/credentials.js';
import { HubLink } from './link/hub-link.js';
import type { TelemetryStage } from './modules/aggregate.js';
import type { Sample } from './modules/module.js';
import type { ModuleSupervisor } from './modules/supervisor.js';
import type { AgentUpdates } from './ota/agent-updates.js';
import { agentUpdates, withUpdateKeys } from './ota/agent-updates-wiring.js';
import { Drainer } from './outbox/drainer.js';
import { type DropAlarm, DropMonitor } from './outbox/drop-monitor.js';
import { type Outbox, PRIORITY } from './outbox/outbox.js';
import { applyModules, deviceLoop, moduleSupervisor } from './supervision.js';
import { TwinSync } from './twin/twin-sync.js';

/** MQTT keepalive, seconds: the broker declares us dead after 1.5 times this of silence. */
const KEEPALIVE_S = 30;

/** What exists only between start() and stop(). */
export interface Running {
  deviceId: string;
  outbox: Outbox;
  drainer: Drainer;
  link: HubLink;
  connection: Connection;
  twin: TwinSync;
  drops: DropMonitor;
  sampler: Timer;
  modules: ModuleSupervisor;
  loop: DeviceLoop;
  updates: AgentUpdates;
}

export interface WireDeps {
  options: AgentOptions;
  credentials: DeviceCredentials;
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  events: TypedEvents<AgentEvents>;
  /** The command handlers registered on the agent (read at each command). */
  handlers: ReadonlyMap<string, CommandHandler>;
  /** The aggregate stage, set by the desired `telemetry` and by aggregate modules. */
  stage: TelemetryStage;
  /** When the agent started, on the clock. */
  startedAt: number;
  /** True while the agent runs (not while it starts or stops). */
  live: () => boolean;
  /** Takes one sample and queues it (the sampling timer's work). */
  sample: () => void;
  /** A reading through the aggregate stage into the outbox. */
  upstream: (sample: Sample) => void;
  /** Queues an event for the hub; throws when the agent is not running or the outbox refuses it. */
  raise: (event: RaiseEventInput) => void;
}

/** Builds the parts of a run and connects them; only the sampling timer and the device loop's tick start here. */
export function wire(deps: WireDeps): Running {
  const { options, credentials, outbox, clock, logger, events, stage } = deps;
  const { deviceId } = credentials;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const will: StatusMessage = { online: false, reason: 'connection lost' };
  const link = new HubLink({
    url: options.hubUrl,
    credentials: { clientId: deviceId, username: deviceId, password: credentials.token },
    clean: false,
    will: { topic: topics.status(deviceId), payload: JSON.stringify(will), qos: 1, retain: true },
    keepalive: KEEPALIVE_S,
    backoff: backoffOf(options),
    clock,
    logger,
  });
  const drainer = new Drainer({
    outbox,
    logger,
    ...(options.outboxWindow !== undefined ? { window: options.outboxWindow } : {}),
  });
  // The supervisor reports through the twin, debounced: `twin` exists by the time it does; what a
  // module raises goes to the device loop too, which exists by then as well.
  const modules = moduleSupervisor({
    options,
    credentials,
    stage,
    clock,
    logger,
    raise: (event) => {
      deps.raise(event);
      loop.onEvent(event);
    },
    upstream: deps.upstream,
    report: (reported) => {
      if (deps.live()) twin.setAgentReported('modules', reported);
    },
  });
  /** The desired `modules` as last received (the device loop's watchdog may hold some back). */
  let desiredModules: Record<string, unknown> = {};
  const loop = deviceLoop({
    options,
    clock,
    logger,
    live: deps.live,
    setSampleInterval: (ms) => {
      if (!deps.live()) return;
      run.sampler.cancel();
      run.sampler = clock.setInterval(deps.sample, ms);
    },
    stopModule: () => applyModules(modules, loop, desiredModules, logger),
    raise: deps.raise,
    report: (state) => twin.setAgentReported('autonomic', state),
  });
  const updates = agentUpdates(options, {
    credentials,
    agent: () => ({ connected: link.connected, modules: modules.reported() }),
    report: (key, value) => twin.setAgentReported(key, value),
    raise: deps.raise,
    clock,
    logger,
  });
  const twin: TwinSync = new TwinSync({
    outbox,
    hardware: withAgentKeys(
      withUpdateKeys(options.hardware, (u, t) => updates.desired(u, t)),
      {
        telemetry: (settings) => stage.setDefault(settings),
        refuseTelemetry: (problems) => logger.warn({ problems }, 'agent: invalid telemetry settings ignored'),
        modules: (desired) => {
          desiredModules = desired;
          applyModules(modules, loop, desiredModules, logger);
        },
        loop: (hardwareDesired, loopKeys) => {
          const problems = loop.setDesired(hardwareDesired, loopKeys);
          if (problems.length > 0) logger.warn({ problems }, 'agent: invalid device-loop policies ignored');
        },
        refuseModules: (problem) => logger.warn({ problem }, 'agent: desired modules ignored'),
      },
    ),
    report: (message) => link.publish(topics.twinReported(deviceId), JSON.stringify(message), { qos: 1 }),
    onApplied: (version) => events.emit('desired-applied', { version }),
    clock,
    logger,
  });
  const drops = new DropMonitor({
    outbox,
    twin,
    clock,
    logger,
    connected: () => link.connected,
    alarm: (alarm) => alarmDrops(alarm, deps.raise, logger),
  });
  const commands = new CommandRouter({
    handlers: deps.handlers,
    respond: (result) => respond(result, { deviceId, outbox, drops, drainer, clock, logger, live: deps.live }),
    clock,
    logger,
  });
  const sampler = clock.setInterval(deps.sample, options.sampleMs ?? 1000);
  modules.events.on('state', (change) => events.emit('module-state', change));
  const connection = new Connection({
    deviceId,
    link,
    twin,
    drops,
    drainer,
    commands,
    heartbeatMs,
    startedAt: deps.startedAt,
    capabilities: () => deviceCapabilities(options),
    onLink: (up) => loop.onLink(up),
    connected: () => events.emit('connected', undefined),
    disconnected: (reason) => events.emit('disconnected', { reason }),
    errorNotice: (notice) => events.emit('error-notice', notice),
    clock,
    logger,
  });
  const run: Running = { deviceId, outbox, drainer, link, connection, twin, drops, sampler, modules, loop, updates };

  loop.start();
  connection.start();
  return run;
}

/** The first drop after a quiet period: an alarm, sent ahead of the telemetry left. */
function alarmDrops({ reason, dropped }: DropAlarm, raise: WireDeps['raise'], logger: Logger): void {
  try {
    raise({
      type: 'alarm',
      code: 'OUTBOX_DROPPED',
      severity: 'warning',
      message:
        reason === 'full'
          ? 'the outbox is full: the oldest, least important messages are being dropped'
          : 'queued messages expired before they could be sent, and were dropped',
      data: { reason, dropped },
    });
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'agent: could not queue the OUTBOX_DROPPED alarm');
  }
}

/** Command results go through the outbox, ahead of telemetry: a disconnect does not lose them. */
function respond(
  result: CommandResultMessage,
  run: Pick<Running, 'deviceId' | 'outbox' | 'drops' | 'drainer'> & {
    clock: Clock;
    logger: Logger;
    live: () => boolean;
  },
): void {
  if (!run.live()) return;
  try {
    run.outbox.enqueue({
      topic: topics.commandResults(run.deviceId),
      payload: JSON.stringify(result),
      qos: 1,
      priority: PRIORITY.urgent,
      createdAt: run.clock.now(),
    });
  } catch (err) {
    run.logger.error({ err: (err as Error).message, id: result.id }, 'agent: command result dropped');
  } finally {
    run.drops.check();
  }
  run.drainer.pump();
}
