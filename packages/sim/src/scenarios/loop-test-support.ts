// Fixture for the device-loop tests (not exported): real agents on simulated hardware, on a
// FakeClock, talking to a real broker through a proxy that can cut the "hub" away. A recorder
// keeps every event the devices publish, in the order the broker received them.

import type { TestContext } from 'node:test';
import { Agent, type DeviceHardware } from '@homeostat/agent';
import { FakeClock, startFaultyProxy, startTestBroker, waitFor } from '@homeostat/testing';

export interface DeviceEvent {
  seq: number;
  ts: number;
  type: string;
  code?: string;
  data?: Record<string, unknown>;
}

export interface LoopRig {
  clock: FakeClock;
  /** Events received, by device, in arrival order. */
  events(device: string): DeviceEvent[];
  agent(id: string, hardware: DeviceHardware, desired: Record<string, unknown>, sampleMs?: number): Promise<Agent>;
  cut(): void;
  restore(): void;
  /** Advances the clock in steps of `stepMs` for `totalMs`. */
  run(totalMs: number, stepMs: number, each?: () => void): Promise<void>;
  /** Advances the clock until `predicate` holds (bounded in real time). */
  until(predicate: () => boolean, message: string): Promise<void>;
}

export async function loopRig(t: TestContext, start = Date.UTC(2026, 0, 15, 6)): Promise<LoopRig> {
  const clock = new FakeClock(start);
  const broker = await startTestBroker();
  const proxy = await startFaultyProxy({ target: { host: '127.0.0.1', port: broker.port } });
  const agents: Agent[] = [];
  t.after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await proxy.close();
    await broker.close();
  });
  const received = new Map<string, DeviceEvent[]>();
  broker.aedes.on('publish', (packet, client) => {
    const m = /^homeostat\/v1\/([^/]+)\/events$/.exec(packet.topic);
    if (!m || client === null) return;
    const list = received.get(m[1]!) ?? [];
    list.push(JSON.parse(packet.payload.toString()) as DeviceEvent);
    received.set(m[1]!, list);
  });
  const publish = (topic: string, payload: unknown) =>
    new Promise<void>((resolve, reject) =>
      broker.aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain: true, dup: false },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  const rig: LoopRig = {
    clock,
    events: (device) => received.get(device) ?? [],
    async agent(id, hardware, desired, sampleMs = 10_000) {
      await publish(`homeostat/v1/${id}/twin/desired`, { version: 1, state: desired });
      const agent = new Agent({
        hubUrl: proxy.url,
        id,
        token: 't',
        dataDir: null,
        hardware,
        clock,
        heartbeatMs: 10_000,
        sampleMs,
        backoff: { initialMs: 1000, maxMs: 5000 },
        executionProviders: () => [],
      });
      agents.push(agent);
      const applied = new Promise<void>((resolve) => agent.events.on('desired-applied', () => resolve()));
      await agent.start();
      await applied;
      return agent;
    },
    cut: () => proxy.cut(),
    restore: () => proxy.restore(),
    async run(totalMs, stepMs, each) {
      for (let done = 0; done < totalMs; done += stepMs) {
        await clock.advance(stepMs);
        each?.();
      }
    },
    until: (predicate, message) =>
      waitFor(predicate, { message, timeoutMs: 10_000, onPoll: () => clock.advance(1000) }).then(() => {}),
  };
  return rig;
}

/** The codes of a device's `action` events from the device loop (those with data.policy), in order. */
export function loopDecisions(events: DeviceEvent[]): string[] {
  return events.filter((e) => e.type === 'action' && typeof e.data?.policy === 'string').map((e) => e.code ?? '');
}
