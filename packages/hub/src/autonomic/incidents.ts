// Incidents and work orders: what the loop hands to people. A decision about a device that
// already has an open incident for the same symptom joins it instead of opening another; an
// escalation raises the severity; a work order carries the device's recent history.

import { randomBytes } from 'node:crypto';
import type { Clock } from '@homeostat/kit';
import { API_VERSION, type Decision, type Incident } from '@homeostat/protocol';
import type { LivenessTracker } from '../controllers/liveness.js';
import type { Store } from '../store/store.js';

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

  async #openFor(decision: Decision): Promise<Incident | undefined> {
    const device = decision.trigger.device;
    if (device === null) return undefined;
    const open = await this.#store.listIncidents({ device, state: 'open', limit: 50 });
    return open.find((i) => i.type === 'incident' && i.symptom === decision.analysis.symptom);
  }
}
