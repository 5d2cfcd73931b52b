// Monitor: turns what the hub observes (liveness transitions, device events, the hub's own
// security refusals, reported module states) into Signals, the one input of the analysis.
// Security refusals are counted per device and kind over a sliding window here, before the
// event log's rate limit, so a flood is counted whole.

import { type Clock, TypedEvents } from '@homeostat/kit';
import type { HubMetric, LivenessState, MetricStat, SecuritySignal } from '@homeostat/protocol';
import type { LivenessTracker, Transition } from '../controllers/liveness.js';
import type { EventLog } from '../events.js';
import type { EventRow } from '../store/store.js';

export type Signal =
  | {
      kind: 'liveness';
      device: string;
      state: Extract<LivenessState, 'suspect' | 'offline'>;
      /** When the device entered the state. */
      since: number;
      at: number;
      heartbeatMs: number;
      lastSeen: number | null;
      evidence: { kind: string; detail: string };
    }
  | {
      kind: 'event';
      device: string;
      type: string;
      code: string | null;
      at: number;
      severity: string;
      message: string;
      data: Record<string, unknown>;
    }
  | {
      kind: 'security';
      device: string;
      signal: SecuritySignal;
      code: string;
      message: string;
      at: number;
      /** When this device was refused for this kind of reason, oldest first, within the last hour. */
      times: readonly number[];
    }
  | {
      kind: 'module-crash-loop';
      device: string;
      module: string;
      at: number;
      evidence: Record<string, unknown>;
    }
  | {
      /** A stat of a device's metric held past a policy's threshold (metric-watch.ts): for that policy only. */
      kind: 'metric';
      device: string;
      policy: string;
      metric: string;
      stat: MetricStat;
      windowMs: number;
      value: number;
      /** The threshold passed, and on which side. */
      threshold: number;
      past: 'above' | 'below';
      /** How long the stat has been past the threshold, ms, and how many values the window holds. */
      heldMs: number;
      samples: number;
      at: number;
    }
  | {
      /** What the hub sampled about itself (hub-signals.ts): about no device. */
      kind: 'hub';
      metric: HubMetric;
      value: number;
      at: number;
      evidence: Record<string, unknown>;
    };

/** The signals about a device: every kind but the hub's own. */
export type DeviceSignal = Exclude<Signal, { kind: 'hub' }>;

/** How long refusals are remembered, ms, and how many per device and kind at most. */
const SECURITY_MEMORY_MS = 3_600_000;
const SECURITY_MEMORY_MAX = 10_000;

const AUTH_CODES = new Set(['ERR_MQTT_AUTH_FAILED', 'ERR_MQTT_CLIENT_ID']);
const TOPIC_CODES = new Set(['ERR_MQTT_TOPIC_DENIED', 'ERR_MQTT_SUBSCRIBE_DENIED']);
/** Protocol notices that correct or ignore, not refuse: no sign of a misbehaving device. */
const NOT_REFUSALS = new Set(['ERR_TELEMETRY_TIMESTAMP', 'ERR_TWIN_STALE_REPORTED']);

/** Which security signal a hub event is, if any. */
export function securitySignalOf(e: EventRow): SecuritySignal | null {
  if (e.source !== 'hub' || e.device === null || e.code === null) return null;
  // A quarantined or retired device knocking again is already contained.
  if (e.data.lifecycle !== undefined) return null;
  if (e.type === 'security' && AUTH_CODES.has(e.code)) return 'auth-failures';
  if (e.type === 'security' && TOPIC_CODES.has(e.code)) return 'topic-violations';
  if (e.type === 'protocol' && !NOT_REFUSALS.has(e.code)) return 'refused-messages';
  return null;
}

/** The module-crash-loop signals a reported-state patch carries. */
export function crashLoopsIn(device: string, state: Record<string, unknown>, at: number): Signal[] {
  const modules = state.modules;
  if (typeof modules !== 'object' || modules === null) return [];
  const out: Signal[] = [];
  for (const [module, m] of Object.entries(modules as Record<string, unknown>)) {
    if (typeof m !== 'object' || m === null || (m as { state?: unknown }).state !== 'crash-loop') continue;
    const { rev, restarts, lastError } = m as Record<string, unknown>;
    out.push({
      kind: 'module-crash-loop',
      device,
      module,
      at,
      evidence: { source: 'reported', rev, restarts, lastError },
    });
  }
  return out;
}

export class Monitor {
  readonly signals = new TypedEvents<{ signal: Signal }>();
  readonly #clock: Clock;
  readonly #liveness: LivenessTracker;
  readonly #events: EventLog;
  readonly #refusals = new Map<string, number[]>();
  #unsubscribe: (() => void)[] = [];

  constructor(deps: { clock: Clock; liveness: LivenessTracker; events: EventLog }) {
    this.#clock = deps.clock;
    this.#liveness = deps.liveness;
    this.#events = deps.events;
  }

  start(): void {
    this.#unsubscribe = [
      this.#liveness.events.on('transition', (t) => this.#transition(t)),
      this.#events.signals.on('event', (e) => this.#event(e)),
      this.#events.signals.on('reported', (r) => {
        for (const s of crashLoopsIn(r.device, r.state, r.at)) this.signals.emit('signal', s);
      }),
    ];
  }

  stop(): void {
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
  }

  #transition(t: Transition): void {
    const { state } = t.to;
    if (state !== 'suspect' && state !== 'offline') return;
    this.signals.emit('signal', {
      kind: 'liveness',
      device: t.device,
      state,
      since: t.to.since ?? this.#clock.now(),
      at: this.#clock.now(),
      heartbeatMs: t.to.heartbeatMs,
      lastSeen: t.to.lastSeen,
      evidence: { kind: t.to.evidence.kind, detail: t.to.evidence.detail },
    });
  }

  #event(e: EventRow): void {
    if (e.device === null) return;
    // A command's result is the device's answer, recorded by the hub: a failed one is a signal.
    if (e.source === 'device' || (e.type === 'command-result' && e.code !== null)) {
      this.signals.emit('signal', {
        kind: 'event',
        device: e.device,
        type: e.type,
        code: e.code,
        at: e.ts,
        severity: e.severity,
        message: e.message,
        data: e.data,
      });
      if (e.code === 'MODULE_CRASH_LOOP' && typeof e.data.module === 'string') {
        this.signals.emit('signal', {
          kind: 'module-crash-loop',
          device: e.device,
          module: e.data.module,
          at: e.ts,
          evidence: { source: 'event', ...e.data },
        });
      }
      return;
    }
    const signal = securitySignalOf(e);
    if (signal === null || e.code === null) return;
    const now = this.#clock.now();
    const key = `${e.device}\u0000${signal}`;
    const times = (this.#refusals.get(key) ?? []).filter((t) => t > now - SECURITY_MEMORY_MS);
    times.push(now);
    if (times.length > SECURITY_MEMORY_MAX) times.splice(0, times.length - SECURITY_MEMORY_MAX);
    this.#refusals.set(key, times);
    this.signals.emit('signal', {
      kind: 'security',
      device: e.device,
      signal,
      code: e.code,
      message: e.message,
      at: now,
      times,
    });
  }
}
