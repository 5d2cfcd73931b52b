// Artifacts over HTTP: upload by hash, signed manifests, downloads with ranges and device
// credentials, and every refusal with its code.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { newSigningKey, signMessage } from '@homeostat/kit';
import { type ArtifactManifest, canonicalJson } from '@homeostat/protocol';
import { ADMIN, startTestHub, type TestHub } from './harness.js';

const file = Buffer.alloc(200_000);
for (let i = 0; i < file.length; i++) file[i] = (i * 31) % 251;
const sha256 = createHash('sha256').update(file).digest('hex');
const key = newSigningKey();

function manifest(over: Partial<ArtifactManifest> = {}) {
  const signed: ArtifactManifest = {
    type: 'artifact',
    name: 'pump-firmware',
    version: '1.2.0',
    targetModels: ['pump-a1'],
    sha256,
    size: file.length,
    createdAt: 1,
    expiresAt: 2_000_000_000_000,
    ...over,
  };
  return { signed, signatures: [{ keyId: key.keyId, sig: signMessage(canonicalJson(signed), key.privateKeyPem) }] };
}

async function upload(hub: TestHub, hash: string, body: Buffer, token = ADMIN) {
  const res = await fetch(`${hub.started.httpUrl}/api/v1/blobs/${hash}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body,
  });
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the answer field by field
  return { status: res.status, body: (await res.json()) as any };
}

function download(hub: TestHub, auth: string, range?: string) {
  return fetch(`${hub.started.httpUrl}/api/v1/blobs/${sha256}`, {
    headers: { authorization: auth, ...(range ? { range } : {}) },
  });
}

test('a file is uploaded under its hash, its manifest pushed, and a device downloads it in ranges', async (t) => {
  const hub = await startTestHub();
  t.after(() => hub.close());
  const bad = await upload(hub, 'f'.repeat(64), file);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'ERR_BLOB_MISMATCH');
  const early = await hub.api('POST', '/api/v1/artifacts', manifest());
  assert.equal(early.status, 404);
  assert.equal(early.body.error.code, 'ERR_BLOB_NOT_FOUND');

  assert.deepEqual((await upload(hub, sha256, file)).body, { sha256, size: file.length });
  const pushed = await hub.api('POST', '/api/v1/artifacts', manifest());
  assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
  assert.equal((await hub.api('POST', '/api/v1/artifacts', manifest())).status, 200, 'the same manifest again');
  const other = await hub.api('POST', '/api/v1/artifacts', manifest({ createdAt: 2 }));
  assert.equal(other.body.error.code, 'ERR_ARTIFACT_EXISTS');
  const wrongSize = await hub.api('POST', '/api/v1/artifacts', manifest({ version: '1.3.0', size: 5 }));
  assert.equal(wrongSize.body.error.code, 'ERR_BLOB_MISMATCH');

  const token = await hub.createDevice('pump-1');
  const basic = `Basic ${Buffer.from(`pump-1:${token}`).toString('base64')}`;
  const list = await fetch(`${hub.started.httpUrl}/api/v1/artifacts/pump-firmware`, {
    headers: { authorization: basic },
  });
  assert.equal(list.status, 200);
  assert.deepEqual(
    ((await list.json()) as { items: { version: string }[] }).items.map((a) => a.version),
    ['1.2.0'],
  );
  const whole = await download(hub, basic);
  assert.equal(whole.status, 200);
  assert.deepEqual(Buffer.from(await whole.arrayBuffer()), file);
  const rest = await download(hub, basic, 'bytes=150000-');
  assert.equal(rest.status, 206);
  assert.equal(rest.headers.get('content-range'), `bytes 150000-199999/${file.length}`);
  assert.deepEqual(Buffer.from(await rest.arrayBuffer()), file.subarray(150_000));
  const outside = await download(hub, basic, 'bytes=300000-');
  assert.equal(outside.status, 416);
  assert.equal(((await outside.json()) as { error: { code: string } }).error.code, 'ERR_RANGE_NOT_SATISFIABLE');
});

test('downloads need a valid device or API token, uploads an operator, and files have a size limit', async (t) => {
  const hub = await startTestHub({ maxArtifactBytes: 1000 });
  t.after(() => hub.close());
  const token = await hub.createDevice('pump-2');
  const wrong = await download(hub, `Basic ${Buffer.from('pump-2:nope').toString('base64')}`);
  assert.equal(wrong.status, 401);
  assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'ERR_AUTH_INVALID');
  assert.equal((await download(hub, '')).status, 401);
  // A device may not upload, nor read what is not meant for devices.
  const basic = `Basic ${Buffer.from(`pump-2:${token}`).toString('base64')}`;
  const put = await fetch(`${hub.started.httpUrl}/api/v1/blobs/${sha256}`, {
    method: 'PUT',
    headers: { authorization: basic, 'content-type': 'application/octet-stream' },
    body: file,
  });
  assert.equal(put.status, 401);
  assert.equal(
    (await fetch(`${hub.started.httpUrl}/api/v1/devices`, { headers: { authorization: basic } })).status,
    401,
  );
  const viewer = await hub.api('POST', '/api/v1/tokens', { name: 'ro', role: 'viewer' });
  const refused = await upload(hub, sha256, file, viewer.body.secret);
  assert.equal(refused.status, 403);
  const big = await upload(hub, sha256, file);
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, 'ERR_PAYLOAD_TOO_LARGE');
  // Nothing half-written stays behind: the same hash, small enough now, is still not there.
  assert.equal((await download(hub, basic)).status, 404);
});
