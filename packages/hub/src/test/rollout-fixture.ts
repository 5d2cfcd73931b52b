// Fixtures for rollout tests: a signed artifact pushed to a test hub, and plain MQTT clients
// acting as devices that answer a desired `update` as a script says (commit, refuse, fail the
// probe and roll back, or never answer), reporting `update` and `firmware` as the protocol says.

import { createHash } from 'node:crypto';
import { newSigningKey, signMessage } from '@homeostat/kit';
import { type ArtifactManifest, canonicalJson } from '@homeostat/protocol';
import type { MqttClient } from 'mqtt';
import type { TestHub } from './harness.js';
import { until } from './harness.js';

const key = newSigningKey();

/** Signs and pushes `fw` at `version` (a small file of its own). */
export async function pushArtifact(t: TestHub, version: string, expiresAt = 2_000_000_000_000): Promise<void> {
  const file = Buffer.from(`firmware ${version}`);
  const sha256 = createHash('sha256').update(file).digest('hex');
  const res = await fetch(`${t.started.httpUrl}/api/v1/blobs/${sha256}`, {
    method: 'PUT',
    headers: { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/octet-stream' },
    body: file,
  });
  if (res.status !== 201) throw new Error(`upload: ${res.status}`);
  const signed: ArtifactManifest = {
    type: 'artifact',
    name: 'fw',
    version,
    targetModels: ['m1'],
    sha256,
    size: file.length,
    createdAt: 1,
    expiresAt,
  };
  const manifest = {
    signed,
    signatures: [{ keyId: key.keyId, sig: signMessage(canonicalJson(signed), key.privateKeyPem) }],
  };
  const pushed = await t.api('POST', '/api/v1/artifacts', manifest);
  if (pushed.status !== 201) throw new Error(`push: ${pushed.status} ${JSON.stringify(pushed.body)}`);
}

/** What a device does with an update of a version: the answer, or nothing at all. */
export type Behaviour = 'commit' | 'refuse' | 'roll-back' | 'silent';

export class FakeDevice {
  client: MqttClient | undefined;
  firmware: string;
  #reported = 0;
  /** The last desired update version answered (or ignored). */
  answered: string | null = null;
  /** Every version it was asked to install, in order. */
  readonly asked: string[] = [];

  constructor(
    readonly name: string,
    readonly behaviour: (version: string) => Behaviour,
    firmware = '1.0.0',
  ) {
    this.firmware = firmware;
  }

  /** Creates the device (once) and connects it; it reports its firmware. */
  async connect(t: TestHub, create: boolean, labels: Record<string, string> = { model: 'm1' }): Promise<void> {
    const token = create
      ? await t.createDevice(this.name, labels)
      : (await t.api('POST', `/api/v1/devices/${this.name}/token`)).body.token;
    const client = await t.mqtt({ clientId: this.name, username: this.name, password: token });
    this.client = client;
    client.on('message', (_topic, payload) => {
      const update = JSON.parse(payload.toString()).state.update;
      void this.#onUpdate(update?.manifest?.signed?.version ?? null, update?.rollout ?? null);
    });
    this.#reported += 100;
    await this.#report({ firmware: { name: 'fw', version: this.firmware } }, true);
    await client.subscribeAsync(`homeostat/v1/${this.name}/twin/desired`, { qos: 1 });
  }

  async #onUpdate(version: string | null, rollout: string | null): Promise<void> {
    if (version === null || version === this.answered) return;
    this.asked.push(version);
    const b = this.behaviour(version);
    if (b !== 'silent') {
      const base = { name: 'fw', version, rollout, step: null, at: 1 };
      if (b === 'commit') {
        this.firmware = version;
        await this.#report({
          update: { ...base, state: 'committed', code: null, reason: null },
          firmware: { name: 'fw', version },
        });
      } else if (b === 'refuse') {
        await this.#report({
          update: { ...base, state: 'refused', code: 'ERR_UPDATE_SIGNATURE', reason: 'bad signature' },
        });
      } else {
        await this.#report({
          update: { ...base, state: 'rolled-back', code: 'ERR_UPDATE_PROBE_FAILED', reason: 'probe' },
        });
      }
    }
    this.answered = version;
  }

  async #report(state: Record<string, unknown>, full = false): Promise<void> {
    this.#reported++;
    const payload = JSON.stringify({ version: this.#reported, state, ...(full ? { full: true } : {}) });
    await this.client?.publishAsync(`homeostat/v1/${this.name}/twin/reported`, payload, { qos: 1 });
  }
}

/** Waits until every device has answered (or ignored) the update its desired state holds now. */
export async function devicesSettled(t: TestHub, devices: readonly FakeDevice[]): Promise<void> {
  await until(
    async () => {
      for (const d of devices) {
        const update = (await t.hub.services.store.getDevice(d.name))?.desired.state.update as
          | { manifest: { signed: { version: string } } }
          | undefined;
        if (update !== undefined && update.manifest.signed.version !== d.answered) return false;
      }
      return true;
    },
    5000,
    'devices to answer their updates',
  );
}
