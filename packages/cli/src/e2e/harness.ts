// End-to-end fixtures: a real hub on free ports with a throwaway data directory, real agents on
// simulated hardware, and the CLI run in-process against them.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type AgentOptions, type DeviceHardware } from '@homeostat/agent';
import { DEFAULT_CONFIG, Hub, type HubConfig, type StartedHub } from '@homeostat/hub';

export const ADMIN = 'e2e-admin-token-0123456789';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `homeostat-e2e-${prefix}-`));
}

export class E2eHub {
  hub: Hub | undefined;
  started: StartedHub | undefined;
  readonly dataDir: string;
  #ports: { httpPort: number; mqttPort: number } = { httpPort: 0, mqttPort: 0 };

  constructor(readonly overrides: Partial<HubConfig> = {}) {
    this.dataDir = tempDir('hub');
  }

  /** Starts (or restarts, on the same ports and data) the hub. */
  async start(): Promise<StartedHub> {
    this.hub = new Hub({
      ...DEFAULT_CONFIG,
      ...this.#ports,
      dataDir: this.dataDir,
      adminToken: ADMIN,
      ...this.overrides,
    });
    this.started = await this.hub.start();
    this.#ports = { httpPort: this.started.httpPort, mqttPort: this.started.mqttPort };
    return this.started;
  }

  async stop(): Promise<void> {
    await this.hub?.stop();
    this.hub = undefined;
  }

  get url(): string {
    if (!this.started) throw new Error('hub not started');
    return this.started.httpUrl;
  }

  // biome-ignore lint/suspicious/noExplicitAny: tests read JSON answers field by field and fail loudly on a wrong shape
  async api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const request = () =>
      fetch(`${this.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    // After a hub restart the first request may go out on a pooled connection to the old server.
    const res = await request().catch(() => request());
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async createDevice(name: string, labels: Record<string, string> = {}): Promise<string> {
    const r = await this.api('POST', '/api/v1/devices', { name, labels });
    if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token;
  }

  /** Every stored seq of one metric, in order. */
  async seqs(device: string, metric: string): Promise<number[]> {
    const r = await this.api('GET', `/api/v1/devices/${device}/telemetry?metric=${metric}&from=0&limit=10000`);
    return (r.body.points as { seq: number }[]).map((p) => p.seq);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export function agent(options: Omit<AgentOptions, 'hardware'> & { hardware: DeviceHardware }): Agent {
  return new Agent({ heartbeatMs: 200, sampleMs: 3_600_000, backoff: { initialMs: 50, maxMs: 300 }, ...options });
}

/** `homeostat artifacts sign FILE` then `artifacts push FILE`, through `cli`; fails the test on a non-zero exit. */
export async function signAndPush(
  cli: (...args: string[]) => Promise<{ code: number; stderr: string }>,
  file: string,
  o: { name: string; version: string; model: string; key: string },
): Promise<void> {
  const signArgs = ['--name', o.name, '--version', o.version, '--target-model', o.model, '--key', o.key];
  for (const args of [
    ['artifacts', 'sign', file, ...signArgs],
    ['artifacts', 'push', file],
  ]) {
    const r = await cli(...args);
    if (r.code !== 0) throw new Error(`homeostat ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  }
}
