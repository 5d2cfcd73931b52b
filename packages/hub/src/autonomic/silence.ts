// A silent device, before a policy acts on it: was it the device, or was its whole site cut off?
// The partition guard (analyze.ts) waits while the rest of the site may still turn silent, then
// judges; a partition holds one decision per site and acts on no device, anything else goes on to
// the policy's decision with the guard's finding in its evidence.

import { type AutonomySpec, type Decision, SITE_LABEL } from '@homeostat/protocol';
import type { LivenessEntry } from '../model/liveness.js';
import type { DeviceRecord, PolicyRecord } from '../store/store.js';
import { DEFAULT_PARTITION_RULE, guardPartition, judgePartition, type PartitionVerdict } from './analyze.js';
import { newId } from './incidents.js';
import type { ManagerDeps } from './manager.js';
import { partitionDecision, transition } from './plan.js';
import type { DeviceSignal, Signal } from './signals.js';

type SilenceSignal = Extract<Signal, { kind: 'liveness' }>;

/** New silences at a site join its held partition decision for this long, ms. */
const PARTITION_EPISODE_MS = 10 * 60_000;

/** What the guard needs of the manager around it. */
export interface SilenceHost {
  deps: Pick<ManagerDeps, 'store' | 'clock' | 'liveness' | 'partition' | 'settleIntervals'>;
  autonomy(): AutonomySpec | undefined;
  /** The open decision, else the stored one. */
  decision(id: string): Promise<Decision | undefined>;
  save(d: Decision): Promise<Decision>;
  /** Runs `fn` in the manager's turn now, or after `ms` on the clock. */
  after(ms: number, fn: () => Promise<void>): Promise<void> | undefined;
  /** Goes on to the policy's decision about the device. */
  evaluate(policy: PolicyRecord, signal: DeviceSignal, device: DeviceRecord): Promise<void>;
}

export class SilenceGuard {
  readonly #host: SilenceHost;
  /** The held partition decision of each site. */
  readonly #partitions = new Map<string, string>();

  constructor(host: SilenceHost) {
    this.#host = host;
  }

  async evaluate(policy: PolicyRecord, signal: SilenceSignal): Promise<void> {
    const { deps } = this.#host;
    const now = deps.liveness.get(signal.device);
    // Level-based: the device must still be in the state, since the same moment.
    if (now.state !== signal.state || now.since !== signal.since) return;
    const device = await deps.store.getDevice(signal.device);
    if (!device) return;
    const site = device.labels[SITE_LABEL];
    if (site === undefined) {
      await this.#host.evaluate(policy, signal, device);
      return;
    }
    const siteDevices = (await deps.store.listDevices())
      .filter((d) => d.labels[SITE_LABEL] === site && d.lifecycle !== 'retired')
      .map((d) => ({ name: d.name, ...pick(deps.liveness.get(d.name)) }));
    const silent = {
      name: device.name,
      labels: device.labels,
      lastSeen: signal.lastSeen,
      heartbeatMs: signal.heartbeatMs,
    };
    const rule = deps.partition ?? DEFAULT_PARTITION_RULE;
    const settleUntil = signal.since + (deps.settleIntervals ?? 0.8) * signal.heartbeatMs;
    const clock = deps.clock.now();
    const step = guardPartition(silent, siteDevices, clock, settleUntil, rule);
    if (step.kind === 'wait') {
      await this.#host.after(step.until - clock, () => this.evaluate(policy, signal));
      return;
    }
    if (step.kind === 'judge') {
      const verdict = judgePartition(silent, siteDevices, rule);
      if (verdict.partition) {
        await this.#hold(policy, signal, verdict);
        return;
      }
    }
    const guard =
      step.kind === 'device'
        ? `partition guard: at most ${step.possible} of the ${step.total} devices of site ${site} went silent with it (${step.heard.length} heard since): not a partition`
        : `partition guard: site ${site} did not go silent with it`;
    const evidence = { ...signal.evidence, detail: `${signal.evidence.detail}; ${guard}` };
    await this.#host.evaluate(policy, { ...signal, evidence }, device);
  }

  /** One held decision per site while it is cut off; devices that go silent later join it. */
  async #hold(
    policy: PolicyRecord,
    signal: SilenceSignal,
    verdict: Extract<PartitionVerdict, { partition: true }>,
  ): Promise<void> {
    const now = this.#host.deps.clock.now();
    const summary = `${verdict.silent.length} of the ${verdict.total} devices of site ${verdict.site} went silent within ${verdict.windowMs} ms of each other`;
    const reason = `partition guard: ${summary}; the network (or the site's power), not the devices: no device is acted on`;
    const knownId = this.#partitions.get(verdict.site);
    const known = knownId ? await this.#host.decision(knownId) : undefined;
    if (known && known.state === 'held' && now - known.createdAt < PARTITION_EPISODE_MS) {
      const devices = [...new Set([...known.devices, ...verdict.silent])].sort();
      if (devices.length === known.devices.length) return;
      const joined = devices.filter((d) => !known.devices.includes(d));
      await this.#host.save(
        transition(
          {
            ...known,
            devices,
            hold: { reason, until: null },
            trigger: {
              ...known.trigger,
              evidence: { ...known.trigger.evidence, silent: devices, total: verdict.total },
            },
          },
          'held',
          now,
          `also silent: ${joined.join(', ')}`,
        ),
      );
      return;
    }
    const decision = partitionDecision({
      id: newId('dec'),
      now,
      policy,
      signal,
      verdict,
      autonomy: this.#host.autonomy(),
      summary,
      reason,
    });
    const saved = await this.#host.save(decision);
    this.#partitions.set(verdict.site, saved.id);
  }
}

function pick(l: LivenessEntry): { state: LivenessEntry['state']; lastSeen: number | null; heartbeatMs: number } {
  return { state: l.state, lastSeen: l.lastSeen, heartbeatMs: l.heartbeatMs };
}
