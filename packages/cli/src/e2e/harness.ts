// End-to-end fixtures: a real hub on free ports with a throwaway data directory, real agents on
// simulated hardware, and the CLI run in-process against them.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type AgentOptions, type DeviceHardware, type FirmwareHealth, firmwareImage } from '@homeostat/agent';
import { DEFAULT_CONFIG, Hub, type HubConfig, type StartedHub } from '@homeostat/hub';
import type { PublicKey } from '@homeostat/protocol';
import { waitFor } from '@homeostat/testing';
import { runCli } from '../testing/run-cli.js';

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

  /** The CLI as an admin of this hub (HOMEOSTAT_SERVER and HOMEOSTAT_TOKEN), with `home` as its HOME. */
  adminCli(home: string): Cli {
    return (...args) =>
      runCli(args, { env: { HOMEOSTAT_SERVER: this.url, HOMEOSTAT_TOKEN: ADMIN }, now: Date.now(), homeDir: home });
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

type Cli = (...args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Signed firmware for end-to-end rollouts: `login` and `keys init` through the CLI, then releases. */
export class FirmwareKeys {
  // biome-ignore lint/suspicious/noExplicitAny: the trusted-keys document as `keys init` wrote it, put into desired state as is
  trust: any;
  rootKey: PublicKey | undefined;
  signingKey = '';

  constructor(
    readonly cli: Cli,
    readonly home: string,
  ) {}

  async init(hub: E2eHub): Promise<void> {
    const keys = join(this.home, 'keys');
    const login = await this.cli('login', '--server', hub.url, '--token', ADMIN);
    if (login.code !== 0) throw new Error(`homeostat login: ${login.stderr}`);
    const init = await this.cli('keys', 'init', '--dir', keys);
    if (init.code !== 0) throw new Error(`homeostat keys init: ${init.stderr}`);
    this.trust = JSON.parse(readFileSync(join(keys, 'trusted-keys.json'), 'utf8'));
    this.signingKey = join(keys, `signing-${this.trust.signed.keys[0].keyId}.key`);
    this.rootKey = JSON.parse(readFileSync(join(keys, 'root.pub.json'), 'utf8'));
  }

  /** Creates a device labelled `model` that trusts the signing key; its token. */
  async device(hub: E2eHub, name: string, model: string): Promise<string> {
    const created = await hub.api('POST', '/api/v1/devices', {
      name,
      labels: { model },
      desired: { trust: this.trust },
    });
    if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${JSON.stringify(created.body)}`);
    return created.body.token;
  }

  /** Signs and pushes a simulated firmware image of `version` that behaves as `health` says. */
  async release(name: string, version: string, model: string, health: FirmwareHealth = 'ok'): Promise<void> {
    const file = join(this.home, `${name}-${version}.json`);
    writeFileSync(file, firmwareImage(name, version, health));
    await signAndPush(this.cli, file, { name, version, model, key: this.signingKey });
  }
}

/**
 * Pumps running signed firmware for rollout tests: a hub, the CLI logged in to it with update keys
 * of its own, and one agent per device, provisioned with the root key and trusting the signing key.
 */
export class FirmwareFleet {
  readonly hub = new E2eHub();
  readonly home: string;
  readonly cli: Cli;
  readonly keys: FirmwareKeys;
  readonly agents: Agent[] = [];

  constructor(
    name: string,
    readonly devices: readonly string[],
  ) {
    const home = tempDir(name);
    this.home = home;
    this.cli = (...args) =>
      runCli(args, { env: { HOMEOSTAT_CONFIG: join(home, 'config.json') }, now: Date.now(), homeDir: home });
    this.keys = new FirmwareKeys(this.cli, home);
  }

  /** Starts the hub and the agents of `options` (each on pump-fw 1.0.0), once all are connected. */
  async start(options: (device: string) => Omit<AgentOptions, 'hubUrl' | 'id' | 'token'>): Promise<void> {
    await this.hub.start();
    await this.keys.init(this.hub);
    for (const name of this.devices) {
      const a = agent({
        hubUrl: this.hub.started!.mqttUrl,
        apiUrl: this.hub.url,
        id: name,
        token: await this.keys.device(this.hub, name, 'pump'),
        dataDir: tempDir(name),
        rootKey: this.keys.rootKey,
        firmware: { name: 'pump-fw', version: '1.0.0' },
        ...options(name),
      } as Parameters<typeof agent>[0]);
      this.agents.push(a);
      await a.start();
    }
    await waitFor(() => this.agents.every((a) => a.connected), { message: 'agents connected', timeoutMs: 15_000 });
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
    await this.hub.close();
  }

  /** `apply -f` of the Rollout pump-fw moving the pumps to `version`, with these lines of its spec. */
  async applyRollout(version: string, specLines: readonly string[]): Promise<void> {
    const file = join(this.home, `rollout-${version}.yaml`);
    writeFileSync(
      file,
      [
        'apiVersion: homeostat/v1',
        'kind: Rollout',
        'metadata: {name: pump-fw}',
        'spec:',
        '  selector: model=pump',
        `  artifact: {name: pump-fw, version: ${version}}`,
        ...specLines.map((l) => `  ${l}`),
        '',
      ].join('\n'),
    );
    const applied = await this.cli('apply', '-f', file);
    if (applied.code !== 0) throw new Error(`homeostat apply: ${applied.stderr}`);
  }

  /** The firmware version each device reports, in the order of `devices`. */
  firmware(): Promise<(string | undefined)[]> {
    return Promise.all(
      this.devices.map(
        async (d) => (await this.hub.api('GET', `/api/v1/devices/${d}`)).body.twin.reported.state.firmware?.version,
      ),
    );
  }
}
