// A hub on free ports with a throwaway data directory, and small clients for tests.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '@homeostat/kit';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { DEFAULT_CONFIG, type HubConfig } from '../config.js';
import { Hub, type StartedHub } from '../main.js';
import type { Store } from '../store/store.js';

export const ADMIN = 'test-admin-token-0123456789';

export interface TestHub {
  hub: Hub;
  started: StartedHub;
  dataDir: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read JSON answers field by field and fail loudly on a wrong shape
  api(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any }>;
  mqtt(options: IClientOptions): Promise<MqttClient>;
  /** Creates a device over the API and returns its token. */
  createDevice(name: string, labels?: Record<string, string>, desired?: Record<string, unknown>): Promise<string>;
  /** Connects as the device and announces it online (heartbeat 1 s); resolves once the hub has it online. */
  online(name: string, token: string): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startTestHub(
  overrides: Partial<HubConfig> = {},
  deps: { clock?: Clock; dataDir?: string; store?: Store } = {},
): Promise<TestHub> {
  const dataDir = deps.dataDir ?? mkdtempSync(join(tmpdir(), 'homeostat-hub-'));
  const hub = new Hub(
    { ...DEFAULT_CONFIG, httpPort: 0, mqttPort: 0, dataDir, adminToken: ADMIN, ...overrides },
    { ...(deps.clock ? { clock: deps.clock } : {}), ...(deps.store ? { store: deps.store } : {}) },
  );
  const started = await hub.start();
  const clients: MqttClient[] = [];
  const t: TestHub = {
    hub,
    started,
    dataDir,
    async api(method, path, body, token = ADMIN) {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${started.httpUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return {
        status: res.status,
        body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
      };
    },
    async mqtt(options) {
      const client = mqtt.connect(started.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
        client.once('close', () => reject(new Error('connection closed before CONNACK')));
      });
      return client;
    },
    async createDevice(name, labels = {}, desired) {
      const r = await t.api('POST', '/api/v1/devices', { name, labels, ...(desired ? { desired } : {}) });
      if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
    async online(name, token) {
      const c = await t.mqtt({ clientId: name, username: name, password: token });
      const status = JSON.stringify({ online: true, heartbeatMs: 1000 });
      await c.publishAsync(`homeostat/v1/${name}/status`, status, { qos: 1, retain: true });
      await until(async () => (await t.api('GET', `/api/v1/devices/${name}`)).body.status.liveness.state === 'online');
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
      await hub.stop();
      if (!deps.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Collects messages on a client, to wait for one matching a predicate. */
export function inbox(client: MqttClient) {
  const messages: { topic: string; payload: string; retain: boolean }[] = [];
  const waiters: (() => void)[] = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), retain: packet.retain });
    for (const w of waiters.splice(0)) w();
  });
  return {
    messages,
    async next(match: (m: { topic: string; payload: string }) => boolean, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching message; got ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
