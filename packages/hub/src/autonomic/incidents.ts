// Incidents and work orders: what the loop hands to people. A decision about a device that
// already has an open incident for the same symptom joins it instead of opening another; an
// escalation raises the severity; a work order carries the device's recent history. An incident
// resolves by a person's word or by the loop once nothing is wrong any more, and its blameless
// post-mortem is written then.

import { randomBytes } from 'node:crypto';
import type { Clock } from '@homeostat/kit';
import { API_VERSION, type Decision, HomeostatError, type Incident, LOOP_RESOLVER } from '@homeostat/protocol';
import type { LivenessTracker } from '../controllers/liveness.js';
import type { Store } from '../store/store.js';
import { isOpenDecision } from './plan.js';
import { writePostMortem } from './postmortem.js';

/** Events a work order carries at most. */
const WORK_ORDER_EVENTS = 100;

export const newId = (prefix: 'dec' | 'inc' | 'wo') => `${prefix}-${randomBytes(6).toString('hex')}`;

export class IncidentBook {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #liveness: LivenessTracker;

  constructor(deps: { store: Store; clock: Clock; liveness: LivenessTracker }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#liveness = deps.liveness;
  }

  /** Opens an incident for the decision, or joins the open one of its device and symptom. */
  async open(
    decision: Decision,
    severity: Incident['severity'],
    title?: string,
  ): Promise<{ incident: Incident; joined: boolean }> {
    const now = this.#clock.now();
    const existing = await this.#openFor(decision);
    const entry = { at: now, message: `${decision.id}: ${decision.trigger.summary}` };
    if (existing) {
      const incident: Incident = {
        ...existing,
        severity: existing.severity === 'critical' ? 'critical' : severity,
        devices: [...new Set([...existing.devices, ...decision.devices])],
        decisions: [...new Set([...existing.decisions, decision.id])],
        updatedAt: now,
        timeline: [...existing.timeline, entry],
      };
      await this.#store.saveIncident(incident);
      return { incident, joined: true };
    }
    const incident: Incident = {
      apiVersion: API_VERSION,
      kind: 'Incident',
      id: newId('inc'),
      type: 'incident',
      title: title ?? `${decision.analysis.symptom} on ${decision.trigger.device ?? decision.devices.join(', ')}`,
      symptom: decision.analysis.symptom,
      severity,
      state: 'open',
      devices: decision.devices,
      decisions: [decision.id],
      openedAt: now,
      updatedAt: now,
      resolvedAt: null,
      timeline: [entry],
      history: null,
    };
    await this.#store.saveIncident(incident);
    return { incident, joined: false };
  }

  /** The decision did not have its effect: its incident (opened if it had none) becomes critical. */
  async escalate(decision: Decision, why: string): Promise<Incident> {
    const now = this.#clock.now();
    const current = decision.incident ? await this.#store.getIncident(decision.incident) : undefined;
    const base = current ?? (await this.open(decision, 'critical', `escalated: ${decision.analysis.symptom}`)).incident;
    const incident: Incident = {
      ...base,
      severity: 'critical',
      updatedAt: now,
      timeline: [...base.timeline, { at: now, message: `${decision.id} escalated: ${why}` }],
    };
    await this.#store.saveIncident(incident);
    return incident;
  }

  /** A work order for a person, with what the hub knows of the device's recent past. */
  async workOrder(decision: Decision, device: string, historyMs: number, title?: string): Promise<Incident> {
    const now = this.#clock.now();
    const record = await this.#store.getDevice(device);
    const events = (await this.#store.listEvents({ device, limit: WORK_ORDER_EVENTS })).filter(
      (e) => e.ts >= now - historyMs,
    );
    const liveness = this.#liveness.get(device);
    const incident: Incident = {
      apiVersion: API_VERSION,
      kind: 'Incident',
      id: newId('wo'),
      type: 'work-order',
      title: title ?? `${decision.analysis.symptom}: inspect ${device}`,
      symptom: decision.analysis.symptom,
      severity: 'warning',
      state: 'open',
      devices: [device],
      decisions: [decision.id],
      openedAt: now,
      updatedAt: now,
      resolvedAt: null,
      timeline: [{ at: now, message: `${decision.id}: ${decision.trigger.summary}` }],
      history: {
        from: now - historyMs,
        to: now,
        labels: record?.labels ?? {},
        lifecycle: record?.lifecycle ?? null,
        liveness: {
          state: liveness.state,
          since: liveness.since,
          lastSeen: liveness.lastSeen,
          evidence: liveness.evidence,
        },
        desired: record?.desired ?? null,
        reported: record?.reported ?? null,
        events: events.map((e) => ({
          ts: e.ts,
          source: e.source,
          type: e.type,
          code: e.code,
          severity: e.severity,
          message: e.message,
        })),
      },
    };
    await this.#store.saveIncident(incident);
    return incident;
  }

  /** Adds an entry to an open incident's timeline, and the decision it tells of to its decisions. */
  async note(id: string, message: string, decision?: string): Promise<Incident | undefined> {
    const i = await this.#store.getIncident(id);
    if (i?.state !== 'open') return undefined;
    const now = this.#clock.now();
    const decisions = decision === undefined ? i.decisions : [...new Set([...i.decisions, decision])];
    const incident = { ...i, decisions, updatedAt: now, timeline: [...i.timeline, { at: now, message }] };
    await this.#store.saveIncident(incident);
    return incident;
  }

  /** A device that replaced one of the incident's devices joins it. */
  async join(id: string, device: string, message: string): Promise<void> {
    const i = await this.#store.getIncident(id);
    if (i?.state !== 'open') return;
    const now = this.#clock.now();
    const devices = [...new Set([...i.devices, device])];
    await this.#store.saveIncident({ ...i, devices, updatedAt: now, timeline: [...i.timeline, { at: now, message }] });
  }

  /** Resolves an open incident (`by`: a token name, or the loop) and writes its post-mortem. */
  async resolve(id: string, by: string, note: string): Promise<Incident> {
    const i = await this.#store.getIncident(id);
    if (!i) throw new HomeostatError('ERR_INCIDENT_NOT_FOUND', `no incident ${id}`);
    if (i.state !== 'open') throw new HomeostatError('ERR_INCIDENT_STATE', `incident ${id} is resolved already`);
    const now = this.#clock.now();
    const who = by === LOOP_RESOLVER ? 'the autonomic loop' : `${by}`;
    const incident: Incident = {
      ...i,
      state: 'resolved',
      resolvedAt: now,
      updatedAt: now,
      resolution: { at: now, by, note },
      timeline: [...i.timeline, { at: now, message: `resolved by ${who}: ${note}` }],
    };
    await this.#store.saveIncident(incident);
    if (incident.type === 'incident') {
      const decisions = (await Promise.all(incident.decisions.map((d) => this.#store.getDecision(d)))).filter(
        (d): d is Decision => d !== undefined,
      );
      const orders = (
        await Promise.all(
          incident.devices.map((d) => this.#store.listIncidents({ device: d, state: 'open', limit: 50 })),
        )
      )
        .flat()
        .filter((o) => o.type === 'work-order');
      await this.#store.savePostMortem(writePostMortem({ incident, decisions, workOrders: orders, now }));
    }
    return incident;
  }

  /**
   * Resolves the incident when nothing is wrong any more: each device it is about (or the one
   * that replaced it) is online, none of its decisions is under way, failed or escalated, and no
   * duty is still handed over. Returns why not otherwise.
   */
  async resolveIfClear(id: string, why: string): Promise<{ resolved: boolean; reason: string }> {
    const i = await this.#store.getIncident(id);
    if (i?.state !== 'open' || i.type !== 'incident') return { resolved: false, reason: 'not an open incident' };
    const decisions = (await Promise.all(i.decisions.map((d) => this.#store.getDecision(d)))).filter(
      (d): d is Decision => d !== undefined,
    );
    const troubled = decisions.find((d) => isOpenDecision(d) || d.state === 'escalated' || d.state === 'failed');
    if (troubled) return { resolved: false, reason: `decision ${troubled.id} is ${troubled.state}` };
    const subjects = [...new Set(decisions.flatMap((d) => (d.trigger.device === null ? [] : [d.trigger.device])))];
    for (let device of subjects) {
      const record = await this.#store.getDevice(device);
      if (record?.replacedBy) device = record.replacedBy;
      const state = this.#liveness.get(device).state;
      if (state !== 'online') return { resolved: false, reason: `${device} is ${state}` };
      const held = await this.#store.listHandOvers({ device, state: 'active' });
      if (held.some((h) => h.from === device))
        return { resolved: false, reason: `duties of ${device} are still handed over` };
    }
    await this.resolve(id, LOOP_RESOLVER, why);
    return { resolved: true, reason: why };
  }

  async #openFor(decision: Decision): Promise<Incident | undefined> {
    const device = decision.trigger.device;
    if (device === null) return undefined;
    const open = await this.#store.listIncidents({ device, state: 'open', limit: 50 });
    return open.find((i) => i.type === 'incident' && i.symptom === decision.analysis.symptom);
  }
}
