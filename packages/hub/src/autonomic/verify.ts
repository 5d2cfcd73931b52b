// Verification of a decision carried out, looked at on the manager's tick until its deadline: did
// the expected effect show (the desired state applied, the symptom cleared, the device online, the
// trigger quiet)? Verified when it did; escalated when the deadline passes first, or at once when
// the trigger fires again.

import type { Decision } from '@homeostat/protocol';
import type { LivenessTracker } from '../controllers/liveness.js';
import type { PolicyRecord, Store } from '../store/store.js';
import { transition } from './plan.js';
import type { SelfLoop } from './self-loop.js';

/** What verification reads, and how it records the outcome. */
export interface VerifyHost {
  store: Store;
  liveness: LivenessTracker;
  self: SelfLoop;
  policies: readonly PolicyRecord[];
  /** When the policy's trigger last fired for the device, since start. */
  firedAt(policy: string, device: string): number | undefined;
  save(d: Decision): Promise<Decision>;
  escalate(d: Decision, why: string): Promise<Decision>;
}

export async function verifyDecision(host: VerifyHost, d: Decision, now: number): Promise<void> {
  const v = d.verification;
  if (!v) return;
  const device = d.trigger.device;
  let ok = false;
  let detail = '';
  if (v.check === 'desired-applied') {
    const written = d.actions.filter((a) => a.device !== null && typeof a.params.version === 'number');
    const pending: string[] = [];
    for (const a of written) {
      const r = await host.store.getDevice(a.device as string);
      if ((r?.reported.desiredVersion ?? -1) < (a.params.version as number))
        pending.push(`${a.device} (version ${a.params.version as number})`);
    }
    ok = pending.length === 0;
    detail = ok
      ? `applied by ${written.map((a) => a.device).join(', ') || 'no device'}`
      : `not applied by ${pending.join(', ')}`;
  } else if (v.check === 'cleared') {
    // Verified when the symptom clears (self-loop.ts), or here from the samples after a restart.
    const policy = host.policies.find((p) => p.name === d.policy);
    const since = d.history.find((h) => h.state === 'succeeded')?.at ?? d.updatedAt;
    ok = !host.self.firing(d.policy) && policy !== undefined && host.self.clearedSince(policy, d.policy, since);
    const last = host.self.lastSignal(d.policy);
    const value = last ? `: ${last.metric} is ${last.value}` : '';
    detail = ok ? `the symptom cleared${value}` : `the symptom has not cleared${value}`;
  } else if (v.check === 'online') {
    ok = device !== null && host.liveness.get(device).state === 'online';
    detail = ok
      ? `${device} is online`
      : `${device} is still ${device === null ? '?' : host.liveness.get(device).state}`;
  } else {
    const fired = device === null ? undefined : host.firedAt(d.policy, device);
    const since = d.history.find((h) => h.state === 'succeeded')?.at ?? d.updatedAt;
    if (fired !== undefined && fired > since) {
      await host.escalate(d, `the trigger fired again at ${new Date(fired).toISOString()}`);
      return;
    }
    ok = now >= v.deadline;
    detail = 'the trigger did not fire again';
  }
  if (ok) {
    const verification = { ...v, outcome: 'verified' as const, at: now, detail };
    await host.save(transition({ ...d, verification }, 'verified', now, detail));
  } else if (now >= v.deadline) {
    await host.escalate(d, `expected effect not seen by the deadline: ${detail}`);
  }
}
