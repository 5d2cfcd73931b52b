// Fixtures for the simulator's tests (not exported from the package): rule modules run on
// simulated hardware with no hub and no MQTT. A stream store keeps the samples, and a bench hands
// each sample to the rules and their actions to the hardware: what the agent's module supervisor
// does, reduced to what rules need.

import {
  type DeviceHardware,
  type LocalStreams,
  type Metrics,
  type ModuleContext,
  type ModuleKindRunner,
  type RaiseEventInput,
  type RuleSpec,
  type RunningModule,
  ruleKind,
  type Sample,
} from '@homeostat/agent';
import { type Clock, silentLogger } from '@homeostat/kit';
import type { ModuleKind, ModuleSpec, WindowStat } from '@homeostat/protocol';

interface Point {
  value: number;
  ts: number;
}

/** Every sample of the last `retainMs`, per metric, in time order. */
export class SampleStore implements LocalStreams {
  readonly #series = new Map<string, Point[]>();
  readonly #retainMs: number;

  constructor(retainMs: number) {
    this.#retainMs = retainMs;
  }

  add(ts: number, metrics: Metrics): void {
    for (const [metric, value] of Object.entries(metrics)) {
      let points = this.#series.get(metric);
      if (points === undefined) {
        points = [];
        this.#series.set(metric, points);
      }
      points.push({ value, ts });
      const horizon = ts - this.#retainMs;
      while (points.length > 0 && points[0]!.ts <= horizon) points.shift();
    }
  }

  latest(metric: string): Point | undefined {
    return this.#series.get(metric)?.at(-1);
  }

  window(metric: string, sizeMs: number, now: number): readonly Point[] {
    return (this.#series.get(metric) ?? []).filter((p) => p.ts > now - sizeMs && p.ts <= now);
  }

  stat(metric: string, sizeMs: number, stat: WindowStat, now: number): number | undefined {
    const values = this.window(metric, sizeMs, now).map((p) => p.value);
    if (values.length === 0) return undefined;
    const sorted = [...values].sort((a, b) => a - b);
    const byStat: Record<WindowStat, () => number> = {
      avg: () => values.reduce((a, b) => a + b, 0) / values.length,
      min: () => sorted[0]!,
      max: () => sorted.at(-1)!,
      // Nearest rank, as the aggregate stage computes it.
      p95: () => sorted[Math.ceil(0.95 * sorted.length) - 1]!,
      count: () => values.length,
      last: () => values.at(-1)!,
    };
    return byStat[stat]();
  }
}

export interface BenchEvent extends RaiseEventInput {
  ts: number;
  rule: string;
}

/** Rules running on one simulated device, on a time the test moves by sampling. */
export class RuleBench {
  readonly store = new SampleStore(3_600_000);
  readonly events: BenchEvent[] = [];
  readonly #hardware: DeviceHardware;
  readonly #rules: RunningModule[] = [];
  #now: number;

  constructor(hardware: DeviceHardware, now: number) {
    this.#hardware = hardware;
    this.#now = now;
  }

  async start(specs: readonly RuleSpec[]): Promise<void> {
    for (const spec of specs) this.#rules.push(await ruleKind.start(spec, this.#context(spec.name)));
  }

  /** Starts a module of another kind (a model) on the same streams, before or beside the rules. */
  async startModule<K extends ModuleKind>(kind: ModuleKindRunner<K>, spec: Extract<ModuleSpec, { kind: K }>) {
    const running = await kind.start(spec, this.#context(spec.name));
    this.#rules.push(running);
    return running;
  }

  /** Samples the hardware at `now` and hands the sample to every rule. */
  sample(now: number): Metrics {
    this.#now = now;
    const metrics = this.#hardware.sample(now);
    this.publish({ ts: now, metrics });
    return metrics;
  }

  /** Publishes a sample (a model's output, with its `source`) to the streams and every rule. */
  publish(sample: Sample): void {
    this.store.add(sample.ts, sample.metrics);
    for (const rule of this.#rules) rule.onSample?.(sample);
  }

  /** The decisions `rule` recorded (its transitions), in order. */
  decisions(rule: string): BenchEvent[] {
    return this.events.filter((e) => e.rule === rule && (e.code === 'RULE_ACTIVATED' || e.code === 'RULE_DEACTIVATED'));
  }

  /** The events raised with `code`, in order. */
  raised(code: string): BenchEvent[] {
    return this.events.filter((e) => e.code === code);
  }

  #context(name: string): ModuleContext {
    const clock: Clock = {
      now: () => this.#now,
      setTimeout: () => {
        throw new Error('the rule bench has no timers');
      },
      setInterval: () => {
        throw new Error('the rule bench has no timers');
      },
    };
    return {
      name,
      clock,
      logger: silentLogger(),
      streams: this.store,
      dataDir: null,
      emit: (metrics, ts) => this.publish({ ts: ts ?? this.#now, metrics, source: name }),
      actuate: (actuator, value) => {
        if (this.#hardware.actuate === undefined) throw new Error(`${this.#hardware.kind} has no actuators`);
        this.#hardware.actuate(actuator, value, this.#now);
      },
      raise: (event) => void this.events.push({ ...event, ts: this.#now, rule: name }),
      crashed: (error) => {
        throw error;
      },
    };
  }
}
