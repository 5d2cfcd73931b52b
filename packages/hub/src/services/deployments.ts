// Deployments: what routes call. Apply (create or update, or a dry run that says which devices
// would change and how), read with status computed from the devices' twins, delete. Each change
// is announced on `events`; the deployment controller does the rest.

import { type Clock, newUid, TypedEvents } from '@homeostat/kit';
import {
  API_VERSION,
  type Deployment,
  type DeploymentDryRun,
  type DeviceModuleDiff,
  HomeostatError,
  jsonEqual,
  type PutDeploymentRequest,
  parseDeploymentSpec,
  withDefaults,
} from '@homeostat/protocol';
import { deploymentStatus, diffModules, layersOf, modulesFor, targets } from '../model/deployments.js';
import type { DeploymentRecord, Store } from '../store/store.js';

export interface DeploymentServiceDeps {
  store: Store;
  clock: Clock;
}

export interface DeploymentEvents extends Record<string, unknown> {
  changed: { name: string };
}

/** Updates retried when another apply of the same deployment got in between. */
const UPDATE_ATTEMPTS = 3;

export type PutDeploymentResult = { created: boolean; deployment: Deployment };

export class DeploymentService {
  readonly #deps: DeploymentServiceDeps;
  readonly events = new TypedEvents<DeploymentEvents>();

  constructor(deps: DeploymentServiceDeps) {
    this.#deps = deps;
  }

  async list(): Promise<Deployment[]> {
    const [all, devices] = await Promise.all([this.#deps.store.listDeployments(), this.#deps.store.listDevices()]);
    const layers = layersOf(all);
    return all.map((d) => view(d, deploymentStatus(d, layers, devices, false)));
  }

  /** One deployment, with how it stands on each device it targets. */
  async get(name: string): Promise<Deployment> {
    const [all, devices] = await Promise.all([this.#deps.store.listDeployments(), this.#deps.store.listDevices()]);
    const d = all.find((x) => x.name === name);
    if (!d) throw notFound(name);
    return view(d, deploymentStatus(d, layersOf(all), devices, true));
  }

  /** Create or replace; what `homeostat apply` does. The spec is changed (a new generation) only when it differs. */
  async put(name: string, req: PutDeploymentRequest): Promise<PutDeploymentResult> {
    const spec = checked(req);
    const labels = req.labels ?? {};
    for (let attempt = 1; ; attempt++) {
      const existing = await this.#deps.store.getDeployment(name);
      if (!existing) {
        const record = this.#newRecord(name, spec, labels);
        if (await this.#deps.store.createDeployment(record)) {
          this.events.emit('changed', { name });
          return { created: true, deployment: await this.get(name) };
        }
        continue; // created by another apply in between: update it instead
      }
      const specChanged = !jsonEqual(spec, specOf(existing));
      if (!specChanged && jsonEqual(labels, existing.labels))
        return { created: false, deployment: await this.get(name) };
      const r = await this.#deps.store.updateDeployment(name, existing.resourceVersion, {
        ...spec,
        labels,
        generation: existing.generation + (specChanged ? 1 : 0),
      });
      if (r.ok) {
        if (specChanged) this.events.emit('changed', { name });
        return { created: false, deployment: await this.get(name) };
      }
      if (attempt >= UPDATE_ATTEMPTS) {
        throw new HomeostatError('ERR_INTERNAL', `deployment ${name} kept changing while it was applied; try again`);
      }
    }
  }

  /**
   * What `put` would do, without storing anything: the deployment as it would be, and for each
   * device whose modules or targeting would change, the modules added, removed and changed (rev
   * before and after). Both sides are computed from the deployments as stored, so the answer is
   * the effect of this one apply, whatever the controller has not written yet.
   */
  async dryRun(name: string, req: PutDeploymentRequest): Promise<DeploymentDryRun> {
    const spec = checked(req);
    const labels = req.labels ?? {};
    const [all, devices] = await Promise.all([this.#deps.store.listDeployments(), this.#deps.store.listDevices()]);
    const existing = all.find((d) => d.name === name);
    const record: DeploymentRecord = existing
      ? { ...existing, ...spec, labels, generation: existing.generation + (jsonEqual(spec, specOf(existing)) ? 0 : 1) }
      : this.#newRecord(name, spec, labels);
    const before = layersOf(all);
    const after = layersOf([...all.filter((d) => d.name !== name), record]);
    const oldLayer = before.find((l) => l.name === name);
    const newLayer = after.find((l) => l.name === name);
    const diffs: DeviceModuleDiff[] = [];
    for (const device of devices) {
      const diff = diffModules(device.name, modulesFor(device.labels, before), modulesFor(device.labels, after), {
        before: oldLayer !== undefined && targets(oldLayer, device.labels),
        after: newLayer !== undefined && targets(newLayer, device.labels),
      });
      if (diff) diffs.push(diff);
    }
    return {
      deployment: view(record, deploymentStatus(record, after, devices, false)),
      created: !existing,
      devices: diffs,
    };
  }

  async delete(name: string): Promise<void> {
    if (!(await this.#deps.store.deleteDeployment(name))) throw notFound(name);
    this.events.emit('changed', { name });
  }

  #newRecord(name: string, spec: Deployment['spec'], labels: Record<string, string>): DeploymentRecord {
    return {
      name,
      uid: newUid(),
      labels,
      ...spec,
      createdAt: this.#deps.clock.now(),
      resourceVersion: 1,
      generation: 1,
      observedGeneration: 0,
    };
  }
}

/** The spec with its defaults, after the checks a schema cannot make (selector syntax, unique module names). */
function checked(req: PutDeploymentRequest): Deployment['spec'] {
  const parsed = parseDeploymentSpec(req.spec);
  if (!parsed.ok) {
    throw new HomeostatError(
      'ERR_VALIDATION',
      'the deployment is invalid',
      parsed.errors.map((e) => `body/spec${e.startsWith('/:') ? e.slice(1) : e}`),
    );
  }
  return withDefaults(parsed.value);
}

function specOf(d: Pick<DeploymentRecord, 'selector' | 'priority' | 'modules'>): Deployment['spec'] {
  return { selector: d.selector, priority: d.priority, modules: d.modules };
}

function notFound(name: string): HomeostatError {
  return new HomeostatError('ERR_DEPLOYMENT_NOT_FOUND', `no deployment named ${name}`);
}

function view(d: DeploymentRecord, status: Deployment['status']): Deployment {
  return {
    apiVersion: API_VERSION,
    kind: 'Deployment',
    metadata: {
      name: d.name,
      uid: d.uid,
      labels: d.labels,
      createdAt: d.createdAt,
      resourceVersion: d.resourceVersion,
      generation: d.generation,
    },
    spec: specOf(d),
    status,
  };
}
