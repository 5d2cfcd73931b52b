// Signed updates end to end: keys made and an artifact signed and pushed with the CLI, then a
// device downloading it from a real hub with its own credentials (cut half-way, resumed with a
// range request) and installing it into its A/B slots with the agent's updater.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileBootSlots, FileRecord, HttpArtifactSource, TrustStore, Updater } from '@homeostat/agent';
import { systemClock } from '@homeostat/kit';
import { runCli } from '../testing/run-cli.js';
import { ADMIN, E2eHub, tempDir } from './harness.js';

describe('signed updates against a real hub', () => {
  const hub = new E2eHub();
  const home = tempDir('updates');
  const env = () => ({ HOMEOSTAT_CONFIG: join(home, 'config.json') });
  const cli = (...args: string[]) => runCli(args, { env: env(), now: Date.now(), homeDir: home });
  before(async () => {
    await hub.start();
    assert.equal((await cli('login', '--server', hub.url, '--token', ADMIN)).code, 0);
  });
  after(() => hub.close());

  test('keys init, artifacts sign and push; the device resumes a cut download and installs it', async () => {
    const keys = join(home, 'keys');
    assert.equal((await cli('keys', 'init', '--dir', keys)).code, 0);
    const key = readFileSync(join(keys, 'trusted-keys.json'), 'utf8');
    const signingId = JSON.parse(key).signed.keys[0].keyId as string;
    const image = Buffer.alloc(300_000);
    for (let i = 0; i < image.length; i++) image[i] = (i * 7) % 256;
    const file = join(home, 'pump-fw-2.0.0.bin');
    writeFileSync(file, image);
    const sign = await cli(
      'artifacts',
      'sign',
      file,
      '--name',
      'pump-fw',
      '--version',
      '2.0.0',
      '--target-model',
      'pump-a1',
      '--key',
      join(keys, `signing-${signingId}.key`),
    );
    assert.equal(sign.code, 0, sign.stderr);
    const push = await cli('artifacts', 'push', file);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /artifact\/pump-fw 2\.0\.0 pushed/);
    assert.match((await cli('artifacts', 'push', file)).stdout, /unchanged/);
    const listed = await cli('get', 'artifacts');
    assert.match(
      listed.stdout,
      new RegExp(`pump-fw\\s+2\\.0\\.0\\s+pump-a1\\s+300000\\s+[0-9a-f]{12}\\s+${signingId}`),
    );

    // A pushed file that does not match its manifest is refused before upload.
    writeFileSync(join(home, 'other.bin'), 'other');
    const wrong = await cli('artifacts', 'push', join(home, 'other.bin'), '--manifest', `${file}.manifest.json`);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /is not the file .* was signed for/);

    // The device: its credentials, the root key it was provisioned with, its slots.
    const created = await cli('devices', 'create', 'pump-7', '-o', 'json');
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout).token as string;
    const dataDir = tempDir('device');
    const trust = new TrustStore({ root: JSON.parse(readFileSync(join(keys, 'root.pub.json'), 'utf8')), dataDir });
    trust.acceptTrustedKeys(JSON.parse(key), Date.now());
    const requests: (string | null)[] = [];
    let cut = true;
    // The first download is cut after 100,000 bytes, as a dropped connection would.
    const flaky: typeof fetch = async (input, init) => {
      requests.push(new Headers(init?.headers).get('range'));
      const res = await fetch(input, init);
      if (!cut || res.body === null) return res;
      cut = false;
      const reader = res.body.getReader();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done || sent >= 100_000) {
            await reader.cancel();
            controller.error(new Error('connection reset'));
            return;
          }
          const part = value.subarray(0, 100_000 - sent);
          sent += part.length;
          controller.enqueue(part);
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const slots = new FileBootSlots({ dir: join(dataDir, 'slots') });
    const updater = new Updater({
      dir: join(dataDir, 'ota'),
      journal: new FileRecord(join(dataDir, 'ota', 'update.json')),
      slots,
      trust,
      source: new HttpArtifactSource({ apiUrl: hub.url, deviceId: 'pump-7', token, fetch: flaky }),
      probe: async () => ({ healthy: true }),
      clock: systemClock,
      device: { model: 'pump-a1' },
    });
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8'));
    await assert.rejects(updater.install(manifest, new AbortController().signal), /connection reset/);
    const outcome = await updater.resume(slots.boot(), new AbortController().signal);
    assert.equal(outcome.result, 'committed');
    assert.equal(requests.length, 2);
    assert.equal(requests[0], null);
    assert.match(requests[1] ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(requests[1] ?? '')?.[0]) > 0, 'the second request resumed past the start');
    const state = slots.read();
    assert.equal(state.slots[state.active]?.version, '2.0.0');
    assert.deepEqual(readFileSync(slots.artifactPath(state.active)), image);
    assert.equal(trust.highestInstalled('pump-fw'), '2.0.0');
  });
});
