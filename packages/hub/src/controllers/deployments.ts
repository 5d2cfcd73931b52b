// The deployment controller: level-based, like a controller-runtime reconciler. A key says only
// "look again"; each reconcile reads the deployments and the devices, computes the modules every
// device should run (model/deployments.ts) and writes `modules` into the desired state of those
// whose stored value differs, through the device service (new desired version, retained
// publish). Nothing is written when nothing changed, so reconciling again costs no version.
//
// Keys: `device/NAME` (created, relabelled, enrolled), `deployment/NAME` (applied or deleted:
// the devices it selects, and those that still run one of its modules, i.e. the old selector's,
// read from the twins rather than remembered), and `all` (hub start, periodic resync).

import { type Clock, KeyedQueue, type Logger, type Timer } from '@homeostat/kit';
import { isHomeostatError, isPlainObject } from '@homeostat/protocol';
import type { EventLog } from '../events.js';
import type { HubMetrics } from '../metrics.js';
import {
  desiredValue,
  keepRollbacks,
  type Layer,
  layersOf,
  moduleChanges,
  modulesFor,
  sameModules,
  targets,
} from '../model/deployments.js';
import type { DeploymentRecord, DeviceRecord, Store } from '../store/store.js';

/** What the controller writes through: the device service's one-key desired-state update. */
export interface DesiredWriter {
  setDesiredKey(name: string, version: number, key: string, value: unknown): Promise<void>;
}

export interface DeploymentControllerDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: HubMetrics;
  writer: DesiredWriter;
  /**
   * Where each device's module changes are recorded (a hub event of type `deployment`, with what
   * each module ran before): the history a rollback goes back to.
   */
  events?: Pick<EventLog, 'record'>;
  /** How often every device is reconciled again whatever happened, ms. Default 300000 (5 min). */
  resyncMs?: number;
}

const MODULES_KEY = 'modules';
const DEFAULT_RESYNC_MS = 300_000;

type Key = `device/${string}` | `deployment/${string}` | 'all';

export class DeploymentController {
  readonly #deps: DeploymentControllerDeps;
  readonly #queue: KeyedQueue<Key>;
  #resync: Timer | undefined;
  /** Set by the hub's own loop when it sheds work: the periodic resync waits; changes still come. */
  #resyncPaused = false;

  constructor(deps: DeploymentControllerDeps) {
    this.#deps = deps;
    this.#queue = new KeyedQueue<Key>({
      clock: deps.clock,
      work: (key) => this.reconcile(key),
      retryInitialMs: 100,
      retryMaxMs: 30_000,
      onError: (key, err, failures, retryInMs) => {
        deps.metrics.deploymentReconciles.inc({ result: 'error' });
        const log = failures > 3 ? deps.logger.error.bind(deps.logger) : deps.logger.warn.bind(deps.logger);
        log({ err, key, failures, retryInMs }, 'deployment reconcile failed; retrying');
      },
    });
  }

  /** Starts working; every device is reconciled once now (the hub may have stopped mid-way) and every resync period. */
  start(): void {
    this.#queue.start();
    this.#queue.add('all');
    this.#resync = this.#deps.clock.setInterval(() => {
      if (!this.#resyncPaused) this.#queue.add('all');
    }, this.#deps.resyncMs ?? DEFAULT_RESYNC_MS);
  }

  setPaused(paused: boolean): void {
    this.#resyncPaused = paused;
  }

  /** Keys in the work queue and the age of the oldest, for the hub's own loop. */
  stats(): { depth: number; oldestMs: number } {
    return this.#queue.stats();
  }

  async stop(): Promise<void> {
    this.#resync?.cancel();
    await this.#queue.stop();
  }

  deviceChanged(name: string): void {
    this.#queue.add(`device/${name}`);
  }

  deploymentChanged(name: string): void {
    this.#queue.add(`deployment/${name}`);
  }

  /** Resolves once no key waits (for tests and the demo). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async reconcile(key: Key): Promise<void> {
    const { store } = this.#deps;
    const deployments = await store.listDeployments();
    const layers = layersOf(deployments);
    if (key === 'all') {
      await this.#reconcileDevices(await store.listDevices(), layers);
      await this.#observe(deployments);
    } else if (key.startsWith('device/')) {
      const device = await store.getDevice(key.slice('device/'.length));
      // A device deleted since: nothing to do.
      if (device) await this.#reconcileDevices([device], layers);
    } else {
      const name = key.slice('deployment/'.length);
      const layer = layers.find((l) => l.name === name);
      const affected = (await store.listDevices()).filter(
        (d) => (layer !== undefined && targets(layer, d.labels)) || runsModulesOf(d, name),
      );
      await this.#reconcileDevices(affected, layers);
      await this.#observe(deployments.filter((d) => d.name === name));
    }
    this.#deps.metrics.deploymentReconciles.inc({ result: 'ok' });
  }

  /**
   * Writes each device's modules where they differ. One device failing (its desired state
   * changed under us: a version conflict) does not hold the others back; the key is retried.
   */
  async #reconcileDevices(devices: readonly DeviceRecord[], layers: readonly Layer[]): Promise<void> {
    const failed: unknown[] = [];
    for (const device of devices) {
      const stored = device.desired.state[MODULES_KEY];
      const set = keepRollbacks(modulesFor(device.labels, layers), stored);
      if (sameModules(stored, set)) continue;
      try {
        await this.#deps.writer.setDesiredKey(device.name, device.desired.version, MODULES_KEY, desiredValue(set));
        this.#deps.metrics.deploymentReconciles.inc({ result: 'written' });
        this.#record(device.name, moduleChanges(stored, set));
      } catch (err) {
        // Deleted since it was read: nothing left to reconcile.
        if (!(isHomeostatError(err) && err.code === 'ERR_DEVICE_NOT_FOUND')) failed.push(err);
      }
    }
    if (failed.length > 0) {
      throw new AggregateError(failed, `${failed.length} of ${devices.length} devices could not be updated`);
    }
  }

  #record(device: string, changes: ReturnType<typeof moduleChanges>): void {
    if (changes.length === 0 || !this.#deps.events) return;
    const said = changes.map(
      (c) =>
        `${c.module} ${c.from ? `${c.from.rev} (${c.from.deployment})` : 'none'} -> ${c.to ? `${c.to.rev} (${c.to.deployment})` : 'none'}`,
    );
    this.#deps.events.record({
      device,
      type: 'deployment',
      code: null,
      severity: 'info',
      message: `modules of ${device} changed: ${said.join('; ')}`,
      data: { changes },
    });
  }

  /** Every device has been written for these deployments as read: their generation is observed. */
  async #observe(deployments: readonly DeploymentRecord[]): Promise<void> {
    for (const d of deployments) {
      if (d.observedGeneration < d.generation) await this.#deps.store.observeDeployment(d.name, d.generation);
    }
  }
}

/** True when the device's desired state holds a module of this deployment (the old selector matched it). */
function runsModulesOf(device: DeviceRecord, deployment: string): boolean {
  const modules = device.desired.state[MODULES_KEY];
  if (!isPlainObject(modules)) return false;
  return Object.values(modules).some((m) => isPlainObject(m) && m.deployment === deployment);
}
