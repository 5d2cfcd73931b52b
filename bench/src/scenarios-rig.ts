// What the fault scenarios share: the real hub in this process (real clock, heartbeat 1 s, the
// demo's policies and degrees), devices created through its API, real agents on simulated
// hardware, each group behind its own faulty proxy (a site's network that can be cut), and the
// scorecard each scenario fills in.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Agent, type AgentOptions, type DeviceHardware } from '@homeostat/agent';
import { DEFAULT_CONFIG, DEMO_AUTONOMY, DEMO_POLICIES, Hub } from '@homeostat/hub';
import { type FaultyProxy, startFaultyProxy } from '@homeostat/testing';
import type { Cleanups } from './harness.js';
import { sleep } from './harness.js';

export const HEARTBEAT_MS = 1000;
const ADMIN = 'scenario-admin-token-0123456789';

/** One line of the scorecard. Times in ms; null when the step did not happen. */
export interface Scorecard {
  scenario: string;
  /** The degrees it ran at, e.g. `self-healing=act, device safeMode=act`. */
  degrees: string;
  /** `real`, `fake` (a FakeClock), or `real, sim ×N` (the simulator's time scale on the real clock). */
  clock: string;
  detectMs: number | null;
  mitigateMs: number | null;
  actions: number;
  escalations: number;
  wrongActions: number;
  goalKept: boolean;
  notes: string;
  /** Figures of this scenario alone, for the JSON line (prefixed with its name). */
  figures?: Record<string, number | boolean | null>;
}

export interface Decision {
  id: string;
  policy: string;
  state: string;
  degree: string;
  createdAt: number;
  devices: string[];
  actions: { action: string; device: string | null; state: string; finishedAt: number | null }[];
}

export interface DeviceEvent {
  seq: number;
  ts: number;
  type: string;
  code: string | null;
  data: Record<string, unknown>;
}

export interface Rig {
  httpUrl: string;
  mqttUrl: string;
  // biome-ignore lint/suspicious/noExplicitAny: scenario code reads JSON answers field by field
  api(method: string, path: string, body?: unknown): Promise<any>;
  device(name: string, labels: Record<string, string>, desired?: Record<string, unknown>): Promise<string>;
  /** Uploads a file to the hub's artifact store under its SHA-256 (a model, a module bundle). */
  blob(sha256: string, body: Readable): Promise<void>;
  /** A proxy in front of the hub's MQTT port: one per site (or device) to cut. */
  proxy(): Promise<FaultyProxy>;
  agent(
    name: string,
    token: string,
    hardware: DeviceHardware,
    via: FaultyProxy | null,
    extra?: Partial<AgentOptions>,
  ): Promise<Agent>;
  decisions(query?: string): Promise<Decision[]>;
  events(device: string): Promise<DeviceEvent[]>;
  close(): Promise<void>;
}

export async function startRig(cleanups: Cleanups): Promise<Rig> {
  const dataDir = mkdtempSync(join(tmpdir(), 'homeostat-scenarios-'));
  const hub = new Hub({
    ...DEFAULT_CONFIG,
    httpPort: 0,
    mqttPort: 0,
    dataDir,
    adminToken: ADMIN,
    heartbeatMs: HEARTBEAT_MS,
  });
  const started = await hub.start();
  const agents: Agent[] = [];
  const proxies: FaultyProxy[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all(agents.map((a) => a.stop().catch(() => {})));
    await Promise.all(proxies.map((p) => p.close().catch(() => {})));
    await hub.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  cleanups.add('scenario hub', close, () => rmSync(dataDir, { recursive: true, force: true }));
  const api: Rig['api'] = async (method, path, body) => {
    const res = await fetch(`${started.httpUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  for (const p of DEMO_POLICIES) await api('PUT', `/api/v1/policies/${p.name}`, { labels: p.labels, spec: p.spec });
  await api('PUT', '/api/v1/autonomy', DEMO_AUTONOMY);
  return {
    httpUrl: started.httpUrl,
    mqttUrl: started.mqttUrl,
    api,
    async device(name, labels, desired) {
      const body = await api('POST', '/api/v1/devices', { name, labels, ...(desired ? { desired } : {}) });
      return body.token as string;
    },
    async blob(sha256, body) {
      const res = await fetch(`${started.httpUrl}/api/v1/blobs/${sha256}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/octet-stream' },
        body: Readable.toWeb(body) as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      if (res.status >= 300) throw new Error(`PUT blob ${sha256}: ${res.status} ${await res.text()}`);
    },
    async proxy() {
      const port = Number(new URL(started.mqttUrl).port);
      const proxy = await startFaultyProxy({ target: { host: '127.0.0.1', port } });
      proxies.push(proxy);
      return proxy;
    },
    async agent(name, token, hardware, via, extra = {}) {
      const agent = new Agent({
        hubUrl: via?.url ?? started.mqttUrl,
        id: name,
        token,
        dataDir: null,
        hardware,
        heartbeatMs: HEARTBEAT_MS,
        backoff: { initialMs: 200, maxMs: 1000 },
        executionProviders: () => [],
        ...extra,
      });
      agents.push(agent);
      await agent.start();
      return agent;
    },
    async decisions(query = '') {
      return (await api('GET', `/api/v1/decisions${query}`)).items as Decision[];
    },
    async events(device) {
      const items = (await api('GET', `/api/v1/events?device=${device}&limit=1000`)).items as DeviceEvent[];
      return [...items].sort((a, b) => a.seq - b.seq);
    },
    close,
  };
}

/** Polls `probe` every `everyMs` until it returns a value; the wall time it first did, and the value. */
export async function pollUntil<T>(
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs: number,
  what: string,
  everyMs = 10,
): Promise<{ at: number; value: T }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return { at: Date.now(), value };
    if (Date.now() > deadline) throw new Error(`scenario: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Actions the hub carried out (done) in these decisions. */
export function doneActions(decisions: readonly Decision[]): number {
  return decisions.reduce((n, d) => n + d.actions.filter((a) => a.state === 'done').length, 0);
}

/** The device loop's decisions among a device's events, by code, in seq order. */
export function loopCodes(events: readonly DeviceEvent[]): string[] {
  return events.filter((e) => e.type === 'action' && typeof e.data?.policy === 'string').map((e) => e.code ?? '');
}
