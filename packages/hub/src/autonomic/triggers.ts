// The monitor side of the autonomic manager: which policies a device's signal fires, and which of
// them are free to consider it now. These are cheap checks in memory, made before anything is
// queued: a flood of signals queues at most one consideration per (policy, device).

import type { Clock } from '@homeostat/kit';
import type { PolicyRecord } from '../store/store.js';
import { firesTrigger } from './analyze.js';
import { DEFAULT_COOLDOWN_MS } from './plan.js';
import type { DeviceSignal } from './signals.js';

export interface TriggersHost {
  clock: Clock;
  /** Whether a decision of this policy about this device is open. */
  hasOpen(policy: string, device: string): boolean;
}

export class Triggers {
  readonly #host: TriggersHost;
  /** Last time each (policy, device) fired, and last decision made for it. */
  readonly #fired = new Map<string, number>();
  readonly #decided = new Map<string, number>();
  /** (policy, device) pairs with a signal queued and not yet considered: a flood queues one. */
  readonly #pending = new Set<string>();

  constructor(host: TriggersHost) {
    this.#host = host;
  }

  /**
   * The policies the signal fires that are free to consider it, each marked pending until
   * `considered`. Every policy it fires remembers when, busy or not: verification looks at it.
   */
  fire(policies: readonly PolicyRecord[], signal: DeviceSignal): PolicyRecord[] {
    const free: PolicyRecord[] = [];
    for (const policy of policies) {
      if (!firesTrigger(policy.spec.trigger, signal)) continue;
      if (signal.kind === 'metric' && signal.policy !== policy.name) continue;
      const key = keyOf(policy.name, signal.device);
      this.#fired.set(key, signal.at);
      if (this.#pending.has(key) || this.#busy(policy, signal.device)) continue;
      this.#pending.add(key);
      free.push(policy);
    }
    return free;
  }

  /** The signal queued for this pair was considered: the next one may queue. */
  considered(policy: string, device: string): void {
    this.#pending.delete(keyOf(policy, device));
  }

  /** A decision was made for this pair at `at`: its cooldown runs from then. */
  decided(policy: string, device: string, at: number): void {
    this.#decided.set(keyOf(policy, device), at);
  }

  /** When the policy's trigger last fired for the device, since start. */
  firedAt(policy: string, device: string): number | undefined {
    return this.#fired.get(keyOf(policy, device));
  }

  /** An open decision, or one within the cooldown, for this policy and device. */
  #busy(policy: PolicyRecord, device: string): boolean {
    const decided = this.#decided.get(keyOf(policy.name, device));
    if (decided !== undefined && this.#host.clock.now() - decided < (policy.spec.cooldownMs ?? DEFAULT_COOLDOWN_MS)) {
      return true;
    }
    return this.#host.hasOpen(policy.name, device);
  }
}

function keyOf(policy: string, device: string): string {
  return `${policy}\u0000${device}`;
}
