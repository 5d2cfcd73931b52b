// Fixtures for the agent's integration tests (not exported from the package): fake hardware,
// and a fake hub that records what devices publish on a real aedes broker and publishes desired
// state and commands the way the hub will.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Capabilities } from '@homeostat/protocol';
import {
  FakeClock,
  type FaultyProxy,
  startFaultyProxy,
  startTestBroker,
  type TestBroker,
  type TestBrokerOptions,
  waitFor,
} from '@homeostat/testing';
import { Agent, type AgentOptions } from './agent.js';
import type { DeviceHardware, Metrics, State } from './device/hardware.js';

/** A thermostat whose temperature rises 0.1 °C per sample; applies `setpoint` and `mode`. */
export class FakeHardware implements DeviceHardware {
  readonly kind = 'thermostat';
  samples = 0;
  readonly applied: State[] = [];
  #state: State = {};

  capabilities(): Capabilities {
    return { sensors: ['temperature'], actuators: ['heater'], battery: false };
  }

  sample(_now: number): Metrics {
    this.samples++;
    return { temperature: 20 + this.samples / 10 };
  }

  applyDesired(desired: State, _now: number): State {
    this.applied.push(desired);
    const next: State = { ...this.#state };
    if (typeof desired.setpoint === 'number') next.setpoint = desired.setpoint;
    if (typeof desired.mode === 'string') next.mode = desired.mode;
    this.#state = next;
    return { ...next };
  }
}

export interface Recorded {
  topic: string;
  json: unknown;
  retain: boolean;
  /** The publishing client's id; null for messages the broker published itself (e.g. a will). */
  clientId: string | null;
}

/** Records every publish under homeostat/v1/ that reaches the broker, and talks back like a hub. */
export class FakeHub {
  readonly messages: Recorded[] = [];
  readonly #broker: TestBroker;

  constructor(broker: TestBroker) {
    this.#broker = broker;
  }

  start(): void {
    this.#broker.aedes.on('publish', (packet, client) => {
      if (!packet.topic.startsWith('homeostat/v1/')) return;
      let json: unknown;
      try {
        json = JSON.parse(packet.payload.toString());
      } catch {
        json = packet.payload.toString();
      }
      this.messages.push({ topic: packet.topic, json, retain: packet.retain, clientId: client?.id ?? null });
    });
  }

  of(deviceId: string, suffix: string): Recorded[] {
    const topic = `homeostat/v1/${deviceId}/${suffix}`;
    return this.messages.filter((m) => m.topic === topic && m.clientId !== null);
  }

  /** Every telemetry reading received (arrays flattened), duplicates included. */
  readings(deviceId: string): { seq: number; ts?: number; metrics: Record<string, number> }[] {
    return this.of(deviceId, 'telemetry').flatMap((m) => (Array.isArray(m.json) ? m.json : [m.json]));
  }

  /** The distinct seqs received on telemetry and events. */
  seqs(deviceId: string): Set<number> {
    const seqs = new Set<number>();
    for (const m of [...this.of(deviceId, 'telemetry'), ...this.of(deviceId, 'events')]) {
      for (const item of Array.isArray(m.json) ? m.json : [m.json]) seqs.add((item as { seq: number }).seq);
    }
    return seqs;
  }

  publish(topic: string, payload: unknown, options: { retain?: boolean } = {}): Promise<void> {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    return new Promise((resolve, reject) =>
      this.#broker.aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(body), qos: 1, retain: options.retain ?? false, dup: false },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  publishDesired(deviceId: string, desired: unknown): Promise<void> {
    return this.publish(`homeostat/v1/${deviceId}/twin/desired`, desired, { retain: true });
  }
}

export interface Harness {
  broker: TestBroker;
  hub: FakeHub;
  clock: FakeClock;
  /** A fresh directory, removed at the end. */
  dataDir: string;
  /** Registers a cleanup; all run at the end of the test, last registered first. */
  defer(fn: () => unknown): void;
  /** An agent on FakeHardware and the harness clock, stopped at the end of the test. */
  agent(overrides?: Partial<AgentOptions>): { agent: Agent; hardware: FakeHardware };
  /** A faulty proxy in front of the broker, closed at the end of the test. */
  proxy(): Promise<FaultyProxy>;
}

export async function harness(t: TestContext, brokerOptions: TestBrokerOptions = {}): Promise<Harness> {
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const defer = (fn: () => unknown) => cleanups.push(fn);
  const dataDir = mkdtempSync(join(tmpdir(), 'homeostat-agent-'));
  defer(() => rmSync(dataDir, { recursive: true, force: true }));
  const broker = await startTestBroker(brokerOptions);
  defer(() => broker.close());
  const hub = new FakeHub(broker);
  hub.start();
  const clock = new FakeClock();
  return {
    broker,
    hub,
    clock,
    dataDir,
    defer,
    agent(overrides = {}) {
      const hardware = new FakeHardware();
      const agent = new Agent({
        hubUrl: broker.url,
        id: 'dev-1',
        token: 'secret-token',
        dataDir,
        hardware,
        clock,
        ...overrides,
      });
      defer(() => agent.stop());
      return { agent, hardware };
    },
    async proxy() {
      const proxy = await startFaultyProxy({ target: { host: '127.0.0.1', port: broker.port } });
      defer(() => proxy.close());
      return proxy;
    },
  };
}

/** Moves the fake clock forward in steps until `predicate` holds (real-time bounded). */
export function advanceUntil(clock: FakeClock, stepMs: number, predicate: () => boolean, message: string) {
  return waitFor(predicate, { message, timeoutMs: 5000, onPoll: () => clock.advance(stepMs) });
}
