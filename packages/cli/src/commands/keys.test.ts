// The update trust chain from the CLI to the agent: keys made and artifacts signed by
// `homeostat`, checked by the agent's TrustStore exactly as a device would.

import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { TrustStore, verifyArtifactBytes } from '@homeostat/agent';
import { nodeIo } from '../io.js';
import { runCli, TEST_NOW, tempDir } from '../testing/run-cli.js';
import { openOrInitKeys } from './keys.js';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await tempDir();
  t.after(() => dir.cleanup());
  const keys = join(dir.path, 'keys');
  const init = await runCli(['keys', 'init', '--dir', keys]);
  assert.equal(init.code, 0, init.stderr);
  const root = JSON.parse(await readFile(join(keys, 'root.pub.json'), 'utf8'));
  const device = new TrustStore({ root, dataDir: null });
  device.acceptTrustedKeys(JSON.parse(await readFile(join(keys, 'trusted-keys.json'), 'utf8')), TEST_NOW);
  const signingKey = async () => {
    const files = (await readdir(keys)).filter((f) => f.startsWith('signing-'));
    return files.map((f) => join(keys, f));
  };
  return { dir: dir.path, keys, init, device, signingKey };
}

test('keys init writes secrets 0600, prints no secret, and refuses to replace a root key', async (t) => {
  const { keys, init } = await setup(t);
  assert.match(init.stdout, /^root key [0-9a-f]{16}: root\.key \(secret\)/);
  assert.doesNotMatch(init.stdout + init.stderr, /PRIVATE KEY/);
  for (const f of await readdir(keys)) {
    const mode = (await stat(join(keys, f))).mode & 0o777;
    assert.equal(mode, f.endsWith('.key') ? 0o600 : 0o644, f);
  }
  const again = await runCli(['keys', 'init', '--dir', keys]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /refusing to replace a root key/);
});

test('an artifact signed with the CLI is accepted by a device; a tampered copy is not', async (t) => {
  const { dir, device, signingKey } = await setup(t);
  const file = join(dir, 'pump-1.2.0.bin');
  await writeFile(file, Buffer.alloc(100_000, 7));
  const [key] = await signingKey();
  const args = [
    'artifacts',
    'sign',
    file,
    '--name',
    'pump-firmware',
    '--version',
    '1.2.0',
    '--target-model',
    'pump-a1',
  ];
  const signed = await runCli([...args, '--key', key ?? '']);
  assert.equal(signed.code, 0, signed.stderr);
  const manifest = JSON.parse(await readFile(`${file}.manifest.json`, 'utf8'));
  const accepted = device.verifyManifest(manifest, { model: 'pump-a1' }, TEST_NOW);
  verifyArtifactBytes(accepted, await readFile(file));
  const tampered = Buffer.alloc(100_000, 7);
  tampered[500] = 8;
  assert.throws(() => verifyArtifactBytes(accepted, tampered), { code: 'ERR_UPDATE_HASH' });

  const bad = await runCli([...args.slice(0, 6), '1.2', '--target-model', 'pump-a1', '--key', key ?? '']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /expected MAJOR\.MINOR\.PATCH/);
});

test('keys rotate: devices take the new list, and a revoked key signs nothing they install', async (t) => {
  const { dir, keys, device, signingKey } = await setup(t);
  const [oldKey] = await signingKey();
  const oldId = /signing-([0-9a-f]{16})\.key$/.exec(oldKey ?? '')?.[1] ?? '';
  const rotated = await runCli(['keys', 'rotate', '--dir', keys, '--revoke', oldId]);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /version 2/);
  device.acceptTrustedKeys(JSON.parse(await readFile(join(keys, 'trusted-keys.json'), 'utf8')), TEST_NOW);

  const file = join(dir, 'fw.bin');
  await writeFile(file, 'firmware');
  const sign = (key: string, out: string) =>
    runCli([
      'artifacts',
      'sign',
      file,
      '--name',
      'fw',
      '--version',
      '2.0.0',
      '--target-model',
      'm1',
      '--key',
      key,
      '--out',
      out,
    ]);
  assert.equal((await sign(oldKey ?? '', join(dir, 'old.json'))).code, 0);
  const old = JSON.parse(await readFile(join(dir, 'old.json'), 'utf8'));
  assert.throws(() => device.verifyManifest(old, { model: 'm1' }, TEST_NOW), { code: 'ERR_UPDATE_UNTRUSTED_KEY' });
  const newKey = (await signingKey()).find((k) => k !== oldKey) ?? '';
  assert.equal((await sign(newKey, join(dir, 'new.json'))).code, 0);
  const fresh = JSON.parse(await readFile(join(dir, 'new.json'), 'utf8'));
  assert.equal(device.verifyManifest(fresh, { model: 'm1' }, TEST_NOW).version, '2.0.0');
});

test("the demo's keys: made once, then read back; a damaged public root key stops it rather than being replaced", async (t) => {
  const dir = await tempDir();
  t.after(() => dir.cleanup());
  const keys = join(dir.path, 'demo-keys');
  const io = nodeIo();
  const made = await openOrInitKeys(io, keys, 3_600_000);
  const again = await openOrInitKeys(io, keys, 3_600_000);
  assert.deepEqual(again, made, 'the second run reads what the first one made');
  const rootKey = await readFile(join(keys, 'root.key'), 'utf8');
  await writeFile(join(keys, 'root.pub.json'), '{"keyId":"nope"}');
  await assert.rejects(openOrInitKeys(io, keys, 3_600_000), /root\.pub\.json is not a public key/);
  assert.equal(await readFile(join(keys, 'root.key'), 'utf8'), rootKey, 'the root key is kept');
});
