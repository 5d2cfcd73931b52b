// The device loop's Analyze and Plan, pure: (knowledge, policies, signal, now) -> the decisions to
// record with their plans, and the knowledge after them. No I/O and no clock: tests assert on the
// plans, and the loop (loop.ts) executes them within each policy's degree.
//
// The knowledge moves with the decision whatever the degree: a safe mode decided under `observe`
// counts as entered, so its exit is decided (and recorded) once too, and nothing is decided twice.

import type { RaiseEventInput } from '../agent.js';
import type { ActuatorValue, Metrics, State } from '../device/hardware.js';
import {
  DEFAULT_GRACE_MS,
  DEFAULT_STEADY_FOR,
  type LocalDegree,
  type LocalPolicy,
  type LoopPolicies,
} from './policies.js';

export type LoopStep =
  /** Safe mode: the device's desired state with `overlay` laid over it, and these actuators. */
  | { op: 'apply-desired'; overlay: State }
  /** Back to the desired state the hub set. */
  | { op: 'restore-desired' }
  | { op: 'actuate'; actuator: string; value: ActuatorValue }
  | { op: 'stop-module'; module: string; rev: string | null }
  | { op: 'set-sample-interval'; ms: number };

export interface LoopDecision {
  policy: LocalPolicy;
  code: string;
  degree: LocalDegree;
  message: string;
  trigger: Record<string, unknown>;
  evidence: string;
  analysis: { symptom: string; description: string };
  plan: LoopStep[];
}

export interface Knowledge {
  link: { up: boolean; since: number };
  safeMode: boolean;
  /** The guard sent the device home (and will resume it); it deferred to a module this episode. */
  guard: { acted: boolean; deferred: boolean };
  lastModuleAction: { at: number; code: string; module: string | null } | null;
  /** Per module: crashes since it entered its crash loop, and whether the watchdog stopped it. */
  modules: Record<string, { rev: string | null; crashesInLoop: number; stopped: boolean }>;
  sampling: { ms: number; steady: number; last: Metrics | null; abnormalUntil: number };
}

export type LoopSignal =
  | { kind: 'tick' }
  | { kind: 'link'; up: boolean }
  | { kind: 'sample'; metrics: Metrics }
  /** An event raised on the device (by a module, the supervisor or the aggregate stage). */
  | { kind: 'event'; event: RaiseEventInput };

export function initialKnowledge(now: number, sampleMs: number): Knowledge {
  return {
    link: { up: false, since: now },
    safeMode: false,
    guard: { acted: false, deferred: false },
    lastModuleAction: null,
    modules: {},
    sampling: { ms: sampleMs, steady: 0, last: null, abnormalUntil: 0 },
  };
}

export interface Planned {
  decisions: LoopDecision[];
  knowledge: Knowledge;
}

/** Link down this many heartbeat intervals without a safeMode.afterMs: safe mode. */
export const SAFE_MODE_AFTER_HEARTBEATS = 3;

export function planLoop(k: Knowledge, p: LoopPolicies, signal: LoopSignal, now: number, heartbeatMs: number): Planned {
  switch (signal.kind) {
    case 'link': {
      const next = signal.up === k.link.up ? k : { ...k, link: { up: signal.up, since: now } };
      return planSafeMode(next, p, now, heartbeatMs);
    }
    case 'tick':
      return planSafeMode(k, p, now, heartbeatMs);
    case 'sample': {
      const guard = planBatteryGuard(k, p, signal.metrics, now);
      const sampling = planSampling(guard.knowledge, p, signal.metrics, now);
      return { decisions: [...guard.decisions, ...sampling.decisions], knowledge: sampling.knowledge };
    }
    case 'event':
      return planEvent(k, p, signal.event, now);
  }
}

const decide = (p: LoopPolicies, d: Omit<LoopDecision, 'degree'>): LoopDecision => ({
  ...d,
  degree: p.autonomy[d.policy],
});

function planSafeMode(k: Knowledge, p: LoopPolicies, now: number, heartbeatMs: number): Planned {
  const spec = p.safeMode;
  if (k.link.up && k.safeMode) {
    const d = decide(p, {
      policy: 'safeMode',
      code: 'SAFE_MODE_EXITED',
      message: 'the hub is reachable again: back to the desired state it set',
      trigger: { kind: 'link', state: 'up', at: k.link.since },
      evidence: `the link to the hub came back at ${new Date(k.link.since).toISOString()}`,
      analysis: { symptom: 'hub-reachable', description: 'the fleet loop can reach the device again' },
      plan: [{ op: 'restore-desired' }],
    });
    return { decisions: [d], knowledge: { ...k, safeMode: false } };
  }
  if (spec === null || k.link.up || k.safeMode) return { decisions: [], knowledge: k };
  const afterMs = spec.afterMs ?? SAFE_MODE_AFTER_HEARTBEATS * heartbeatMs;
  const downMs = now - k.link.since;
  if (downMs < afterMs) return { decisions: [], knowledge: k };
  const plan: LoopStep[] = [
    { op: 'apply-desired', overlay: spec.desired ?? {} },
    ...Object.entries(spec.actuate ?? {}).map(([actuator, value]) => ({ op: 'actuate' as const, actuator, value })),
  ];
  const d = decide(p, {
    policy: 'safeMode',
    code: 'SAFE_MODE_ENTERED',
    message: `the hub has been unreachable for ${downMs} ms: running the safe mode`,
    trigger: { kind: 'link', state: 'down', forMs: downMs, afterMs },
    evidence: `no connection to the hub since ${new Date(k.link.since).toISOString()} (${downMs} ms, the limit is ${afterMs} ms)`,
    analysis: {
      symptom: 'hub-unreachable',
      description:
        'without the hub, orders that depend on other devices may stop: the device falls back to what it can do alone',
    },
    plan,
  });
  return { decisions: [d], knowledge: { ...k, safeMode: true } };
}

function planBatteryGuard(k: Knowledge, p: LoopPolicies, metrics: Metrics, now: number): Planned {
  const g = p.batteryGuard;
  const metric = g?.metric ?? 'battery';
  const level = metrics[metric];
  if (g === null || level === undefined) return { decisions: [], knowledge: k };
  const actuate = (a: Record<string, ActuatorValue>): LoopStep[] =>
    Object.entries(a).map(([actuator, value]) => ({ op: 'actuate', actuator, value }));
  if (level >= g.resumeAbove) {
    if (!k.guard.acted) return { decisions: [], knowledge: { ...k, guard: { acted: false, deferred: false } } };
    const d = decide(p, {
      policy: 'batteryGuard',
      code: 'BATTERY_GUARD_RESUMED',
      message: `${metric} back at ${level.toFixed(1)} %: resuming work`,
      trigger: { kind: 'metric', metric, above: g.resumeAbove, value: level },
      evidence: `${metric} ${level.toFixed(1)} % reached ${g.resumeAbove} %`,
      analysis: { symptom: 'battery-recharged', description: 'charged enough to work again' },
      plan: actuate(g.resume ?? {}),
    });
    return { decisions: [d], knowledge: { ...k, guard: { acted: false, deferred: false } } };
  }
  if (level >= g.below || k.guard.acted) return { decisions: [], knowledge: k };
  const home = g.homeWhen?.in.includes(metrics[g.homeWhen.metric] ?? Number.NaN) === true;
  const last = k.lastModuleAction;
  const moduleActed = last !== null && now - last.at <= (g.graceMs ?? DEFAULT_GRACE_MS);
  const trigger = { kind: 'metric', metric, below: g.below, value: level };
  if (home || moduleActed) {
    // Cooperation with a module (e.g. mower-return-to-base): it acted, the guard only says so, once.
    if (k.guard.deferred) return { decisions: [], knowledge: k };
    const by = moduleActed ? `${last?.code}${last?.module ? ` by ${last.module}` : ''}` : 'none';
    const d = decide(p, {
      policy: 'batteryGuard',
      code: 'BATTERY_GUARD_DEFERRED',
      message: `${metric} at ${level.toFixed(1)} %, but the device is already heading home: nothing to add`,
      trigger,
      evidence: home
        ? `${g.homeWhen?.metric} = ${metrics[g.homeWhen?.metric ?? '']} (home or heading there); last module action: ${by}`
        : `a module acted ${now - (last?.at ?? now)} ms ago: ${by}`,
      analysis: {
        symptom: 'battery-low',
        description: 'a module already sent the device home: the guard leaves it be',
      },
      plan: [],
    });
    return { decisions: [d], knowledge: { ...k, guard: { acted: false, deferred: true } } };
  }
  const d = decide(p, {
    policy: 'batteryGuard',
    code: 'BATTERY_GUARD_RETURN',
    message: `${metric} at ${level.toFixed(1)} % and no module sent the device home: returning to base`,
    trigger,
    evidence: `${metric} ${level.toFixed(1)} % under the reserve of ${g.below} %; the device is not heading home and no module acted within ${g.graceMs ?? DEFAULT_GRACE_MS} ms`,
    analysis: { symptom: 'battery-low', description: 'below the reserve it takes to get home: it would be stranded' },
    plan: actuate(g.actuate),
  });
  return { decisions: [d], knowledge: { ...k, guard: { acted: true, deferred: false } } };
}

function planSampling(k: Knowledge, p: LoopPolicies, metrics: Metrics, now: number): Planned {
  const s = p.sampling;
  if (s === null) return { decisions: [], knowledge: k };
  const prev = k.sampling.last;
  const moved = Object.entries(s.tolerance).filter(([m, tol]) => {
    const a = prev?.[m];
    const b = metrics[m];
    return a !== undefined && b !== undefined && Math.abs(b - a) > tol;
  });
  const abnormal = now < k.sampling.abnormalUntil;
  const current = Math.min(s.maxMs, Math.max(s.minMs, k.sampling.ms));
  const base = { ...k.sampling, last: metrics };
  const change = (ms: number, why: string, evidence: string): Planned => ({
    decisions: [
      decide(p, {
        policy: 'sampling',
        code: 'SAMPLING_CHANGED',
        message: `sampling every ${ms} ms (was ${current} ms): ${why}`,
        trigger: { kind: 'sampling', fromMs: current, toMs: ms },
        evidence,
        analysis: { symptom: why, description: 'sample as often as the values need, no more' },
        plan: [{ op: 'set-sample-interval', ms }],
      }),
    ],
    knowledge: { ...k, sampling: { ...base, ms, steady: 0 } },
  });
  if (moved.length > 0 || abnormal) {
    if (current === s.minMs)
      return { decisions: [], knowledge: { ...k, sampling: { ...base, ms: current, steady: 0 } } };
    const evidence = abnormal
      ? 'an abnormal episode is open (an alarm was raised)'
      : moved
          .map(([m, tol]) => `${m} moved ${Math.abs((metrics[m] ?? 0) - (prev?.[m] ?? 0)).toFixed(3)} (> ${tol})`)
          .join(', ');
    return change(s.minMs, abnormal ? 'abnormal' : 'changing', evidence);
  }
  if (prev === null) return { decisions: [], knowledge: { ...k, sampling: { ...base, ms: current } } };
  const steady = k.sampling.steady + 1;
  if (steady < (s.steadyFor ?? DEFAULT_STEADY_FOR) || current >= s.maxMs)
    return { decisions: [], knowledge: { ...k, sampling: { ...base, ms: current, steady } } };
  return change(Math.min(s.maxMs, current * 2), 'steady', `${steady} samples in a row within tolerance`);
}

function planEvent(k: Knowledge, p: LoopPolicies, event: RaiseEventInput, now: number): Planned {
  const data = event.data ?? {};
  const module = typeof data.module === 'string' ? data.module : typeof data.rule === 'string' ? data.rule : null;
  let next = k;
  if (event.type === 'alarm' && p.sampling !== null) {
    next = { ...next, sampling: { ...next.sampling, abnormalUntil: now + p.sampling.maxMs } };
  }
  if (event.type === 'action' && module !== null) {
    next = { ...next, lastModuleAction: { at: now, code: event.code ?? 'action', module } };
  }
  const w = p.watchdog;
  if (w === null || module === null) return { decisions: [], knowledge: next };
  const rev = typeof data.rev === 'string' ? data.rev : null;
  const prev = next.modules[module];
  // A new rev starts over: the watchdog judges a version, not a name.
  const m = prev === undefined || prev.rev !== rev ? { rev, crashesInLoop: 0, stopped: false } : prev;
  if (event.code === 'MODULE_CRASH_LOOP') {
    return {
      decisions: [],
      knowledge: { ...next, modules: { ...next.modules, [module]: { ...m, crashesInLoop: 1 } } },
    };
  }
  if (event.code !== 'MODULE_CRASHED' || m.crashesInLoop === 0 || m.stopped) {
    return { decisions: [], knowledge: { ...next, modules: { ...next.modules, [module]: m } } };
  }
  const crashes = m.crashesInLoop + 1;
  if (crashes < w.stopAfterCrashes) {
    return {
      decisions: [],
      knowledge: { ...next, modules: { ...next.modules, [module]: { ...m, crashesInLoop: crashes } } },
    };
  }
  const d = decide(p, {
    policy: 'watchdog',
    code: 'MODULE_STOPPED',
    message: `module ${module} kept crashing in its crash loop (${crashes} crashes): stopped until its rev changes`,
    trigger: { kind: 'module', module, rev, crashes },
    evidence: `${crashes} crashes since it entered its crash loop; the last: ${event.message ?? 'no message'}`,
    analysis: {
      symptom: 'module-crash-loop',
      description:
        'restarting it again only burns power and floods the log: it waits for a new revision (the hub may roll it back)',
    },
    plan: [{ op: 'stop-module', module, rev }],
  });
  return {
    decisions: [d],
    knowledge: { ...next, modules: { ...next.modules, [module]: { ...m, crashesInLoop: crashes, stopped: true } } },
  };
}
