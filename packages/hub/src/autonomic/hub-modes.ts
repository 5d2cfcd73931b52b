// What the hub's own loop can change about the hub, each a mode held by the decisions that asked
// for it and lifted when the last of them undoes it: a tighter raw retention (the tightest asked
// wins), backpressure on telemetry, and work shed (models placed in the hub; the deployment
// controller's periodic resync). Modes live in memory: a restarted hub starts with none, as
// configured, and its loop asks again if the symptom is still there.

import type { DecisionAction, SheddableWork } from '@homeostat/protocol';
import type { RetentionJob } from '../controllers/retention.js';
import { type Backpressure, DEFAULT_ADMIT_BELOW, DEFAULT_MAX_HOLD_MS } from '../ingest/backpressure.js';
import type { HubMetrics } from '../metrics.js';

export interface HubModesDeps {
  metrics: HubMetrics;
  retention: RetentionJob;
  backpressure: Backpressure;
  /** Work that can wait, paused and resumed by name. */
  work: Record<SheddableWork, { setPaused(paused: boolean): void }>;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export class HubModes {
  readonly #deps: HubModesDeps;
  /** For each mode, the decisions holding it and what each asked. */
  readonly #held = new Map<string, Map<string, Record<string, unknown>>>();

  constructor(deps: HubModesDeps) {
    this.#deps = deps;
  }

  /** Modes held now, with the decisions holding each. */
  get held(): Record<string, string[]> {
    return Object.fromEntries([...this.#held].filter(([, by]) => by.size > 0).map(([m, by]) => [m, [...by.keys()]]));
  }

  /** Carries out a hub action for a decision; returns what it did, for the record. */
  async apply(decision: string, action: Pick<DecisionAction, 'action' | 'params'>): Promise<string> {
    const mode = modeOf(action);
    const holders = this.#held.get(mode) ?? new Map<string, Record<string, unknown>>();
    this.#held.set(mode, holders);
    holders.set(decision, action.params);
    return this.#enforce(mode, action);
  }

  /** Undoes a hub action of a decision; the mode lifts once no decision holds it. */
  async release(decision: string, action: Pick<DecisionAction, 'action' | 'params'>): Promise<string> {
    const mode = modeOf(action);
    const holders = this.#held.get(mode);
    if (!holders?.delete(decision))
      return `${mode} was not held by ${decision} (the hub restarted since): nothing to undo`;
    const still = holders.size > 0 ? ` (still held by ${[...holders.keys()].join(', ')})` : '';
    return `${await this.#enforce(mode, action)}${still}`;
  }

  async #enforce(mode: string, action: Pick<DecisionAction, 'action' | 'params'>): Promise<string> {
    const holders = [...(this.#held.get(mode)?.values() ?? [])];
    const { retention, backpressure, work, metrics } = this.#deps;
    metrics.hubMode.set({ mode }, holders.length > 0 ? 1 : 0);
    switch (action.action) {
      case 'tighten-retention': {
        const asked = holders.map((p) => Number(p.rawMs)).filter((n) => Number.isFinite(n));
        await retention.setRawOverride(asked.length > 0 ? Math.min(...asked) : null);
        const now = retention.retention.rawMs;
        return asked.length > 0
          ? `raw readings kept ${duration(now)} (configured: longer); older ones pruned now, rollups kept`
          : `raw readings kept ${duration(now)} again, as configured`;
      }
      case 'backpressure': {
        if (holders.length === 0) {
          backpressure.off();
          return 'backpressure released: telemetry is acknowledged as soon as it is stored';
        }
        const holds = holders.map((p) => (typeof p.maxHoldMs === 'number' ? p.maxHoldMs : DEFAULT_MAX_HOLD_MS));
        const maxHoldMs = Math.min(...holds);
        const admitBelow = Math.min(
          ...holders.map((p) => (typeof p.admitBelow === 'number' ? p.admitBelow : DEFAULT_ADMIT_BELOW)),
        );
        backpressure.on({ maxHoldMs, admitBelow });
        return `backpressure on: telemetry acknowledgements wait (at most ${maxHoldMs} ms) while ${admitBelow} readings or more wait for the writer; devices keep theirs meanwhile; events, alarms and the twin pass`;
      }
      case 'shed-work': {
        const name = String(action.params.work) as SheddableWork;
        work[name].setPaused(holders.length > 0);
        return holders.length > 0 ? `${WORK[name]} paused` : `${WORK[name]} resumed`;
      }
      default:
        return `${action.action} is not an action on the hub`;
    }
  }
}

const WORK: Record<SheddableWork, string> = {
  'hub-placement': 'models placed in the hub',
  'controller-resync': "the deployment controller's periodic resync (changes are still reconciled as they come)",
};

function modeOf(action: Pick<DecisionAction, 'action' | 'params'>): string {
  return action.action === 'shed-work' ? `shed-${String(action.params.work)}` : action.action;
}

function duration(ms: number): string {
  if (ms % DAY_MS === 0) return `${ms / DAY_MS} d`;
  if (ms % HOUR_MS === 0) return `${ms / HOUR_MS} h`;
  return `${ms} ms`;
}
