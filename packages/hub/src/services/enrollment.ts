// Enrollment groups and zero-touch claims: a claim token plus a template turns a new device
// into a provisioned one with its own credentials.

import { type Clock, hashToken, newToken, newUid, TypedEvents } from '@homeostat/kit';
import {
  API_VERSION,
  type ClaimRequest,
  type ClaimResponse,
  type EnrollmentGroup,
  HomeostatError,
  isName,
  type PutEnrollmentGroupRequest,
} from '@homeostat/protocol';
import type { EventLog } from '../events.js';
import type { HubMetrics } from '../metrics.js';
import type { EnrollmentGroupRecord, Store } from '../store/store.js';

export interface EnrollmentDeps {
  store: Store;
  clock: Clock;
  events: EventLog;
  metrics: HubMetrics;
}

/** A device enrolled through a group (so controllers look at it, as at any new device). */
export interface EnrollmentEvents extends Record<string, unknown> {
  enrolled: { name: string; group: string };
}

export class EnrollmentService {
  readonly #deps: EnrollmentDeps;
  readonly events = new TypedEvents<EnrollmentEvents>();

  constructor(deps: EnrollmentDeps) {
    this.#deps = deps;
  }

  async list(): Promise<EnrollmentGroup[]> {
    return (await this.#deps.store.listEnrollmentGroups()).map(groupView);
  }

  async get(name: string): Promise<EnrollmentGroup> {
    const g = await this.#deps.store.getEnrollmentGroup(name);
    if (!g) throw new HomeostatError('ERR_ENROLLMENT_GROUP_NOT_FOUND', `no enrollment group named ${name}`);
    return groupView(g);
  }

  /** Creates a group; the claim token is returned this once and only its hash is kept. */
  async create(name: string, req: PutEnrollmentGroupRequest): Promise<{ group: EnrollmentGroup; claimToken: string }> {
    const claimToken = newToken('hsc_');
    const record: EnrollmentGroupRecord = {
      name,
      uid: newUid(),
      claimHash: hashToken(claimToken),
      template: req.template ?? {},
      namePrefix: req.namePrefix ?? name,
      maxDevices: req.maxDevices ?? null,
      expiresAt: req.expiresAt ?? null,
      enrolled: 0,
      createdAt: this.#deps.clock.now(),
      resourceVersion: 1,
    };
    if (!(await this.#deps.store.createEnrollmentGroup(record))) {
      throw new HomeostatError('ERR_ENROLLMENT_GROUP_EXISTS', `enrollment group ${name} exists already`);
    }
    return { group: groupView(record), claimToken };
  }

  /** Create or update; an update keeps the claim token. */
  async put(
    name: string,
    req: PutEnrollmentGroupRequest,
  ): Promise<
    { created: true; group: EnrollmentGroup; claimToken: string } | { created: false; group: EnrollmentGroup }
  > {
    const existing = await this.#deps.store.getEnrollmentGroup(name);
    if (!existing) return { created: true, ...(await this.create(name, req)) };
    const updated = await this.#deps.store.updateEnrollmentGroup(name, {
      template: req.template ?? existing.template,
      namePrefix: req.namePrefix ?? existing.namePrefix,
      maxDevices: req.maxDevices === undefined ? existing.maxDevices : req.maxDevices,
      expiresAt: req.expiresAt === undefined ? existing.expiresAt : req.expiresAt,
    });
    if (!updated) throw new HomeostatError('ERR_ENROLLMENT_GROUP_NOT_FOUND', `no enrollment group named ${name}`);
    return { created: false, group: groupView(updated) };
  }

  async delete(name: string): Promise<void> {
    if (!(await this.#deps.store.deleteEnrollmentGroup(name))) {
      throw new HomeostatError('ERR_ENROLLMENT_GROUP_NOT_FOUND', `no enrollment group named ${name}`);
    }
  }

  /** The group a claim token opens, if it is valid now. */
  async authenticateClaim(
    claimToken: string,
  ): Promise<{ ok: true; group: string } | { ok: false; error: HomeostatError }> {
    const g = await this.#deps.store.findEnrollmentGroupByClaimHash(hashToken(claimToken));
    if (!g) return { ok: false, error: new HomeostatError('ERR_CLAIM_INVALID') };
    if (g.expiresAt !== null && g.expiresAt <= this.#deps.clock.now()) {
      return { ok: false, error: new HomeostatError('ERR_CLAIM_EXPIRED', `enrollment group ${g.name} has expired`) };
    }
    return { ok: true, group: g.name };
  }

  /** Provisions a device from the group's template and returns its credentials. */
  async claim(groupName: string, req: ClaimRequest): Promise<ClaimResponse> {
    const fail = (error: HomeostatError): ClaimResponse => {
      this.#deps.metrics.claims.inc({ outcome: error.code });
      this.#deps.events.record({
        device: null,
        type: 'enrollment',
        code: error.code,
        severity: 'warning',
        message: `claim refused for group ${groupName}: ${error.message}`,
        data: { group: groupName, requested: req.name ?? null },
      });
      return { ok: false, error: { code: error.code, message: error.message } };
    };
    const g = await this.#deps.store.getEnrollmentGroup(groupName);
    if (!g) return fail(new HomeostatError('ERR_CLAIM_INVALID'));
    if (g.expiresAt !== null && g.expiresAt <= this.#deps.clock.now())
      return fail(new HomeostatError('ERR_CLAIM_EXPIRED'));
    const name = req.name ?? `${g.namePrefix}-${newUid().slice(0, 8)}`;
    if (!isName(name)) return fail(new HomeostatError('ERR_VALIDATION', `invalid device name ${JSON.stringify(name)}`));
    const token = newToken('hsd_');
    const outcome = await this.#deps.store.claimDevice(g.name, {
      name,
      uid: newUid(),
      labels: g.template.labels ?? {},
      tokenHash: hashToken(token),
      enrollmentGroup: g.name,
      desired: g.template.desired ?? {},
      createdAt: this.#deps.clock.now(),
    });
    if (!outcome.ok) {
      switch (outcome.reason) {
        case 'exhausted':
          return fail(new HomeostatError('ERR_CLAIM_EXHAUSTED', `enrollment group ${g.name} is full`));
        case 'name-taken':
          return fail(new HomeostatError('ERR_DEVICE_EXISTS', `a device named ${name} exists already`));
        default:
          return fail(new HomeostatError('ERR_CLAIM_INVALID'));
      }
    }
    this.#deps.metrics.claims.inc({ outcome: 'ok' });
    this.#deps.events.record({
      device: name,
      type: 'enrollment',
      code: null,
      severity: 'info',
      message: `device ${name} enrolled through group ${g.name}`,
      data: { group: g.name, serial: req.serial ?? null },
    });
    this.events.emit('enrolled', { name, group: g.name });
    return { ok: true, deviceId: name, token };
  }
}

function groupView(g: EnrollmentGroupRecord): EnrollmentGroup {
  return {
    apiVersion: API_VERSION,
    kind: 'EnrollmentGroup',
    metadata: { name: g.name, uid: g.uid, createdAt: g.createdAt, resourceVersion: g.resourceVersion },
    spec: { template: g.template, namePrefix: g.namePrefix, maxDevices: g.maxDevices, expiresAt: g.expiresAt },
    status: { enrolled: g.enrolled },
  };
}
