// Analyze, pure: which policies a signal fires, what the symptom is in words, and the
// partition guard (many devices of one site silent at once is the network, not the devices).

import { type LivenessState, matchesSelector, type PolicySpec, parseSelector, SITE_LABEL } from '@homeostat/protocol';
import type { Signal } from './signals.js';

export interface DeviceFacts {
  name: string;
  labels: Record<string, string>;
}

export function inScope(scope: PolicySpec['scope'], device: DeviceFacts): boolean {
  if (scope === 'fleet') return true;
  if (scope === 'hub') return false;
  if ('devices' in scope) return scope.devices.includes(device.name);
  const parsed = parseSelector(scope.selector);
  return 'terms' in parsed && matchesSelector(device.labels, parsed.terms);
}

/**
 * Whether the signal is this trigger. A liveness trigger matches the transition; holding the
 * state for `forIntervals` is waited for by the manager, which asks again with `held: true`.
 */
export function firesTrigger(trigger: PolicySpec['trigger'], signal: Signal): boolean {
  switch (trigger.kind) {
    case 'liveness':
      return signal.kind === 'liveness' && signal.state === trigger.state;
    case 'event':
      return (
        signal.kind === 'event' &&
        signal.code === trigger.code &&
        (trigger.type === undefined || signal.type === trigger.type)
      );
    case 'security': {
      if (signal.kind !== 'security' || signal.signal !== trigger.signal) return false;
      const since = signal.at - (trigger.withinMs ?? 60_000);
      return signal.times.filter((t) => t > since).length >= trigger.atLeast;
    }
    case 'module-crash-loop':
      return signal.kind === 'module-crash-loop' && (trigger.module === undefined || trigger.module === signal.module);
    case 'hub':
      // Thresholds held over time and hysteresis: the manager follows them (self-loop.ts).
      return false;
    case 'metric':
      // Held and past its threshold already (metric-watch.ts), for one policy: the manager matches it by name.
      return signal.kind === 'metric' && signal.metric === trigger.metric;
  }
}

/** The trigger and its evidence in a sentence, for the record. */
export function describeSignal(
  signal: Signal,
  trigger: PolicySpec['trigger'],
): { summary: string; evidence: Record<string, unknown> } {
  switch (signal.kind) {
    case 'liveness':
      return {
        summary: `${signal.device} is ${signal.state}: ${signal.evidence.detail}`,
        evidence: {
          state: signal.state,
          since: signal.since,
          lastSeen: signal.lastSeen,
          heartbeatMs: signal.heartbeatMs,
          evidence: signal.evidence,
        },
      };
    case 'event':
      return {
        summary: `${signal.device} reported ${signal.type} ${signal.code ?? ''}${signal.message ? `: ${signal.message}` : ''}`,
        evidence: {
          type: signal.type,
          code: signal.code,
          severity: signal.severity,
          message: signal.message,
          data: signal.data,
        },
      };
    case 'security': {
      const windowMs = trigger.kind === 'security' ? (trigger.withinMs ?? 60_000) : 60_000;
      const count = signal.times.filter((t) => t > signal.at - windowMs).length;
      return {
        summary: `${signal.device}: ${count} ${signal.signal.replace('-', ' ')} within ${windowMs / 1000} s (last: ${signal.message})`,
        evidence: { signal: signal.signal, count, windowMs, lastCode: signal.code, lastMessage: signal.message },
      };
    }
    case 'module-crash-loop':
      return {
        summary: `module ${signal.module} on ${signal.device} is crash-looping`,
        evidence: { module: signal.module, ...signal.evidence },
      };
    case 'metric': {
      const { metric, stat, windowMs, value, threshold, past, heldMs, samples } = signal;
      return {
        summary: `${signal.device}: the ${stat} of ${metric} over ${windowMs / 1000} s is ${round(value)}, ${past === 'above' ? 'over' : 'under'} ${threshold}${heldMs > 0 ? ` for ${heldMs / 1000} s` : ''}`,
        evidence: { metric, stat, windowMs, value, threshold, past, heldMs, samples },
      };
    }
    case 'hub': {
      const past =
        trigger.kind === 'hub'
          ? trigger.above !== undefined
            ? `over ${trigger.above}`
            : `under ${trigger.below}`
          : '';
      return {
        summary: `the hub's ${signal.metric} is ${signal.value}${past ? `, ${past}` : ''}`,
        evidence: { metric: signal.metric, value: signal.value, ...signal.evidence },
      };
    }
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

// ---- partition guard ---------------------------------------------------------------------

export interface PartitionRule {
  /** At least this share of the site's devices silent together, 0..1. */
  minShare: number;
  /** And at least this many. */
  minDevices: number;
  /** Gone silent within this many heartbeat intervals of each other. */
  withinIntervals: number;
  /**
   * A device of the site still online and heard more than this many of the silent device's
   * heartbeat intervals after its last heartbeat was heard after the silence began, so it is not
   * cut off with it. The default, 1.1, is the hub's offline (1.8) plus the settle time (0.8)
   * minus suspect (1.5) intervals: a device heard later could not be suspect when the settle time
   * ends, so the judgement then would not count it either, and deciding on it early never
   * concludes otherwise than waiting would.
   */
  heardAfterIntervals: number;
}

export const DEFAULT_PARTITION_RULE: PartitionRule = {
  minShare: 0.5,
  minDevices: 3,
  withinIntervals: 2,
  heardAfterIntervals: 1.1,
};

export interface SiteDevice {
  name: string;
  state: LivenessState;
  lastSeen: number | null;
  /** Its heartbeat interval, ms; default the silent device's. */
  heartbeatMs?: number;
}

export type PartitionVerdict =
  | { partition: false }
  | { partition: true; site: string; silent: string[]; total: number; windowMs: number };

/**
 * Whether `device`'s silence is part of its site going silent: the devices of the site that are
 * suspect or offline and were last heard within the window of it, counted against the site.
 */
export function judgePartition(
  device: { name: string; labels: Record<string, string>; lastSeen: number | null; heartbeatMs: number },
  siteDevices: readonly SiteDevice[],
  rule: PartitionRule = DEFAULT_PARTITION_RULE,
): PartitionVerdict {
  const site = device.labels[SITE_LABEL];
  if (site === undefined || device.lastSeen === null) return { partition: false };
  const windowMs = rule.withinIntervals * device.heartbeatMs;
  const silent = siteDevices
    .filter(
      (d) =>
        (d.state === 'suspect' || d.state === 'offline') &&
        d.lastSeen !== null &&
        Math.abs(d.lastSeen - (device.lastSeen as number)) <= windowMs,
    )
    .map((d) => d.name)
    .sort();
  const total = siteDevices.length;
  if (silent.length >= rule.minDevices && silent.length >= rule.minShare * total) {
    return { partition: true, site, silent, total, windowMs };
  }
  return { partition: false };
}

export type GuardStep =
  /** Enough of the site was heard after the silence began: the device, not the network. */
  | { kind: 'device'; heard: string[]; possible: number; total: number }
  /** The settle time is over: judge with `judgePartition`. */
  | { kind: 'judge' }
  /** Not known yet: look again at `until` (when a sibling's next heartbeat is due, or the settle time ends). */
  | { kind: 'wait'; until: number };

/**
 * The partition guard at `now`, for a device silent since its last heartbeat, judged at the
 * latest at `settleUntil`. It decides at once when the evidence is already there: the devices of
 * the site online and heard since the silence began (see `heardAfterIntervals`) are not cut off
 * with it, and when those left could not make a partition (too few, or under the share), it is
 * not one. Otherwise it waits for the next heartbeat due from a sibling not yet heard, and
 * judges when the settle time is over.
 */
export function guardPartition(
  device: { name: string; labels: Record<string, string>; lastSeen: number | null; heartbeatMs: number },
  siteDevices: readonly SiteDevice[],
  now: number,
  settleUntil: number,
  rule: PartitionRule = DEFAULT_PARTITION_RULE,
): GuardStep {
  const last = device.lastSeen;
  if (device.labels[SITE_LABEL] === undefined || last === null) {
    return { kind: 'device', heard: [], possible: 1, total: siteDevices.length };
  }
  const windowMs = rule.withinIntervals * device.heartbeatMs;
  const cutBy = last + rule.heardAfterIntervals * device.heartbeatMs;
  const heard: string[] = [];
  let possible = 0;
  let nextDue = Number.POSITIVE_INFINITY;
  let late = false;
  for (const d of siteDevices) {
    if (d.name !== device.name && d.state === 'online' && d.lastSeen !== null && d.lastSeen > cutBy) heard.push(d.name);
    // Never heard, or silent long before: not part of the same silence (as judgePartition counts).
    else if (d.lastSeen !== null && d.lastSeen >= last - windowMs) {
      possible++;
      if (d.state === 'online') {
        const due = d.lastSeen + (d.heartbeatMs ?? device.heartbeatMs);
        if (due > now) nextDue = Math.min(nextDue, due);
        else if (d.name !== device.name) late = true;
      }
    }
  }
  const total = siteDevices.length;
  if (possible < rule.minDevices || possible < rule.minShare * total) {
    return { kind: 'device', heard: heard.sort(), possible, total };
  }
  if (now >= settleUntil) return { kind: 'judge' };
  // A heartbeat due already but not in yet may come any moment: look again a tenth of an interval on.
  const again = Math.min(nextDue, late ? now + device.heartbeatMs / 10 : Number.POSITIVE_INFINITY);
  return { kind: 'wait', until: Math.min(settleUntil, Math.max(again, now + 1)) };
}
