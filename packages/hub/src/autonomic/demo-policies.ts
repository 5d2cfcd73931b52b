// The policies the demo fleet ships, as data, and the degrees it runs at. They name the labels
// the simulator gives its devices (`model`, `room`, `site`) and the codes its rule modules raise
// (`BEARING_WEAR`). Apply them at demo start with
//   for (const p of DEMO_POLICIES) await hub.autonomic.putPolicy(p.name, { labels: p.labels, spec: p.spec });
//   await hub.autonomic.putAutonomy(DEMO_AUTONOMY);
// The hub's tests run these same policies, so the demo shows what the tests prove.

import type { AutonomySpec, PolicySpec } from '@homeostat/protocol';

export interface PolicyDocument {
  name: string;
  labels: Record<string, string>;
  spec: PolicySpec;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const labels = { 'shipped-with': 'demo' };

/**
 * A device that misbehaves on the wire: contained first (a person approves by default): its
 * connections refused and its token revoked, then recorded.
 */
const selfProtection = (
  name: string,
  signal: 'auth-failures' | 'refused-messages' | 'topic-violations',
  atLeast: number,
  symptom: string,
  description: string,
): PolicyDocument => ({
  name,
  labels,
  spec: {
    property: 'self-protection',
    scope: 'fleet',
    trigger: { kind: 'security', signal, atLeast, withinMs: MINUTE_MS },
    analysis: { symptom, description },
    plan: [
      { action: 'quarantine' },
      { action: 'rotate-credentials' },
      { action: 'open-incident', severity: 'critical' },
    ],
    // Quarantined, the device can no longer be refused anything: the refusals stop.
    verify: { check: 'quiet', withinMs: 5 * MINUTE_MS },
    cooldownMs: HOUR_MS,
    rateLimit: { max: 5, perMs: MINUTE_MS },
  },
});

export const DEMO_POLICIES: readonly PolicyDocument[] = [
  selfProtection(
    'quarantine-on-auth-failures',
    'auth-failures',
    20,
    'credential-attack',
    'repeated connections with a wrong token under one device name: a leaked name being guessed at, or a device with a stale token',
  ),
  selfProtection(
    'quarantine-on-publish-flood',
    'refused-messages',
    100,
    'publish-flood',
    'a device sending message after message the hub must refuse (malformed, oversized, unknown topics)',
  ),
  selfProtection(
    'quarantine-on-topic-violations',
    'topic-violations',
    10,
    'topic-violations',
    'a device publishing or subscribing outside its own topics: compromised, or running foreign code',
  ),
  {
    name: 'room-thermostat-silent',
    labels,
    spec: {
      property: 'self-healing',
      scope: { selector: 'model=th-100' },
      trigger: { kind: 'liveness', state: 'offline' },
      analysis: {
        symptom: 'thermostat-silent',
        description:
          "the room's thermostat stopped reporting: its heater, in 'remote' mode, would hold its last order blind",
      },
      plan: [
        // The heater's own firmware ('auto') keeps the room at its setpoint without the thermostat.
        { action: 'patch-desired', target: { sameLabel: 'room', selector: 'model=ht-200' }, patch: { mode: 'auto' } },
        { action: 'open-incident', severity: 'warning' },
        { action: 'hand-over', to: { labelledFor: 'backup-for' } },
      ],
      verify: { check: 'desired-applied', withinMs: 30_000 },
      cooldownMs: 10 * MINUTE_MS,
      rateLimit: { max: 10, perMs: MINUTE_MS },
    },
  },
  {
    name: 'pump-bearing-wear',
    labels,
    spec: {
      property: 'self-healing',
      scope: { selector: 'model=pm-400' },
      trigger: { kind: 'event', type: 'alarm', code: 'BEARING_WEAR' },
      analysis: {
        symptom: 'bearing-wear',
        description: 'the edge model sees a worn bearing: slower, it wears less and lasts until someone replaces it',
      },
      plan: [
        { action: 'patch-desired', patch: { speed: 0.5 } },
        { action: 'work-order', title: 'replace the drive-end bearing', historyMs: 24 * HOUR_MS },
      ],
      verify: { check: 'desired-applied', withinMs: MINUTE_MS },
      cooldownMs: HOUR_MS,
    },
  },
  {
    name: 'module-crash-loop-rollback',
    labels,
    spec: {
      property: 'self-healing',
      scope: 'fleet',
      trigger: { kind: 'module-crash-loop' },
      analysis: {
        symptom: 'module-crash-loop',
        description: 'a module keeps crashing (three times within its window), most likely since its last change',
      },
      plan: [{ action: 'rollback-module' }, { action: 'open-incident', severity: 'warning' }],
      cooldownMs: HOUR_MS,
      rateLimit: { max: 5, perMs: MINUTE_MS },
    },
  },
];

/**
 * The degrees the demo runs at: healing and optimization act (the hub's own policies among
 * them: retention, backpressure, work shed), protection waits ten minutes for a person, then rejects.
 */
export const DEMO_AUTONOMY: AutonomySpec = {
  rules: [
    { scope: 'fleet', property: 'self-healing', degree: 'act' },
    { scope: 'fleet', property: 'self-optimization', degree: 'act' },
    { scope: 'fleet', property: 'self-protection', degree: 'approve' },
  ],
  approval: { deadlineMs: 10 * MINUTE_MS, default: 'reject' },
};
