// What the HTTP routes call for the autonomic manager: policies (checked against each other and
// the fleet before they are stored), decisions and their approvals, incidents, and the autonomy
// settings with the record of what each degree did.

import { type Clock, newUid } from '@homeostat/kit';
import {
  API_VERSION,
  type AutonomyRecord,
  type AutonomySettings,
  type AutonomySpec,
  DEGREES,
  type Decision,
  type DecisionsQuery,
  type Device,
  HomeostatError,
  HUB_POLICIES,
  type Incident,
  type IncidentsQuery,
  type Lifecycle,
  type Policy,
  type PostMortem,
  PROPERTIES,
  type PutPolicyRequest,
  type ReplaceDeviceResponse,
} from '@homeostat/protocol';
import type { EventLog } from '../events.js';
import type { DeviceService } from '../services/devices.js';
import type { PolicyRecord, Store } from '../store/store.js';
import { checkPolicy } from './check-policy.js';
import { fleetDegree } from './degree.js';
import { type ActionChannel, changeLifecycle } from './execute.js';
import { pingPong, selfLoops } from './loops.js';
import type { AutonomicManager } from './manager.js';

const ACTED = new Set(['succeeded', 'failed', 'verified', 'escalated', 'executing', 'approved']);
const OVERRULED = new Set(['rejected', 'expired']);

export interface AutonomicServiceDeps {
  store: Store;
  clock: Clock;
  manager: AutonomicManager;
  devices: DeviceService;
  channel: ActionChannel;
  events: EventLog;
}

export class AutonomicService {
  readonly #deps: AutonomicServiceDeps;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #manager: AutonomicManager;

  constructor(deps: AutonomicServiceDeps) {
    this.#deps = deps;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#manager = deps.manager;
  }

  /** Resolves once every signal received so far has been handled (tests, the demo). */
  idle(): Promise<void> {
    return this.#manager.idle();
  }

  /** A person's lifecycle change, e.g. lifting a quarantine. */
  async setLifecycle(name: string, lifecycle: Lifecycle, by: string): Promise<Device> {
    if ((await changeLifecycle(this.#deps, name, lifecycle, by)) === null) {
      throw new HomeostatError('ERR_DEVICE_NOT_FOUND', `no device named ${name}`);
    }
    return this.#deps.devices.get(name);
  }

  async listPolicies(): Promise<Policy[]> {
    return (await this.#store.listPolicies()).map(policyView);
  }

  async getPolicy(name: string): Promise<Policy> {
    const p = await this.#store.getPolicy(name);
    if (!p) throw new HomeostatError('ERR_POLICY_NOT_FOUND', `no policy named ${name}`);
    return policyView(p);
  }

  async putPolicy(name: string, req: PutPolicyRequest): Promise<{ created: boolean; policy: Policy }> {
    const [existing, others, devices] = await Promise.all([
      this.#store.getPolicy(name),
      this.#store.listPolicies(),
      this.#store.listDevices(),
    ]);
    const problems = checkPolicy(name, req.spec, others, devices);
    if ((Object.values(HUB_POLICIES) as string[]).includes(name)) {
      problems.unshift(`/metadata/name: ${name} is the name the hub's own decisions carry; pick another`);
    }
    if (problems.length > 0) {
      throw new HomeostatError(
        'ERR_POLICY_INVALID',
        `policy ${name} refused (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}); nothing was stored`,
        problems,
      );
    }
    const loops = selfLoops({ name, spec: req.spec }, devices);
    if (loops.length > 0) {
      throw new HomeostatError(
        'ERR_POLICY_SELF_LOOP',
        `policy ${name} refused: it would trigger itself (${loops[0]}); nothing was stored`,
        loops,
      );
    }
    const cycle = pingPong({ name, spec: req.spec }, others, devices);
    if (cycle.length > 0) {
      const names = cycle.map((edge) => edge.split(' ', 1)[0]);
      throw new HomeostatError(
        'ERR_POLICY_PING_PONG',
        `policy ${name} refused: it and ${[...new Set(names)].filter((n) => n !== name).join(', ')} would trigger each other in turn; nothing was stored`,
        cycle,
      );
    }
    const record: PolicyRecord = {
      name,
      uid: existing?.uid ?? newUid(),
      labels: req.labels ?? {},
      spec: req.spec,
      createdAt: existing?.createdAt ?? this.#clock.now(),
      resourceVersion: (existing?.resourceVersion ?? 0) + 1,
    };
    const created = await this.#store.putPolicy(record);
    await this.#manager.reload();
    return { created, policy: policyView(record) };
  }

  async deletePolicy(name: string): Promise<void> {
    if (!(await this.#store.deletePolicy(name))) {
      throw new HomeostatError('ERR_POLICY_NOT_FOUND', `no policy named ${name}`);
    }
    await this.#manager.reload();
  }

  async listDecisions(q: DecisionsQuery): Promise<Decision[]> {
    return this.#store.listDecisions({
      device: q.device,
      policy: q.policy,
      states: q.state === undefined ? undefined : [q.state],
      limit: q.limit ?? 100,
    });
  }

  async getDecision(id: string): Promise<Decision> {
    const d = await this.#store.getDecision(id);
    if (!d) throw new HomeostatError('ERR_DECISION_NOT_FOUND', `no decision ${id}`);
    return d;
  }

  approve(id: string, by: string, reason: string | null): Promise<Decision> {
    return this.#manager.approve(id, by, reason);
  }

  reject(id: string, by: string, reason: string | null): Promise<Decision> {
    return this.#manager.reject(id, by, reason);
  }

  listIncidents(q: IncidentsQuery): Promise<Incident[]> {
    return this.#store.listIncidents({ device: q.device, state: q.state, limit: q.limit ?? 100 });
  }

  async getIncident(id: string): Promise<Incident> {
    const i = await this.#store.getIncident(id);
    if (!i) throw new HomeostatError('ERR_INCIDENT_NOT_FOUND', `no incident ${id}`);
    return i;
  }

  /** A person resolves an incident; its post-mortem is written then. */
  resolveIncident(id: string, by: string, note: string): Promise<Incident> {
    return this.#manager.resolveIncident(id, by, note);
  }

  async getPostMortem(id: string): Promise<PostMortem> {
    const incident = await this.getIncident(id);
    const p = await this.#store.getPostMortem(incident.id);
    if (!p) {
      const why = incident.type === 'work-order' ? 'it is a work order' : 'it is still open';
      throw new HomeostatError('ERR_POSTMORTEM_NOT_FOUND', `incident ${id} has no post-mortem: ${why}`);
    }
    return p;
  }

  /** Replaces a device with another (a dry run only shows what would move). */
  replaceDevice(name: string, by: string, neu: string, dryRun: boolean): Promise<ReplaceDeviceResponse> {
    return this.#manager.replace(name, neu, by, dryRun);
  }

  async getAutonomy(): Promise<AutonomySettings> {
    const spec = (await this.#store.getAutonomy()) ?? { rules: [] };
    const counts = await this.#store.countDecisions();
    const record: AutonomyRecord[] = [];
    for (const property of PROPERTIES) {
      for (const degree of DEGREES) {
        const mine = counts.filter((c) => c.property === property && c.degree === degree);
        if (mine.length === 0) continue;
        const sum = (match: (state: string) => boolean) =>
          mine.filter((c) => match(c.state)).reduce((n, c) => n + c.count, 0);
        record.push({
          property,
          degree,
          decisions: sum(() => true),
          acted: sum((s) => ACTED.has(s)),
          overruled: sum((s) => OVERRULED.has(s)),
          escalated: sum((s) => s === 'escalated'),
          held: sum((s) => s === 'held'),
        });
      }
    }
    return {
      apiVersion: API_VERSION,
      kind: 'AutonomySettings',
      spec,
      status: {
        fleet: PROPERTIES.map((property) => ({ property, ...fleetDegree(spec, property) })),
        record,
      },
    };
  }

  async putAutonomy(spec: AutonomySpec): Promise<AutonomySettings> {
    await this.#store.putAutonomy(spec, this.#clock.now());
    await this.#manager.reload();
    return this.getAutonomy();
  }
}

function policyView(p: PolicyRecord): Policy {
  return {
    apiVersion: API_VERSION,
    kind: 'Policy',
    metadata: {
      name: p.name,
      uid: p.uid,
      labels: p.labels,
      createdAt: p.createdAt,
      resourceVersion: p.resourceVersion,
    },
    spec: p.spec,
  };
}
