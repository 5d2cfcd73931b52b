// `homeostat login`: verifies with /whoami, saves the config with mode 0600, never prints the token.

import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeHub } from '../testing/fake-hub.js';
import { runCli, tempDir } from '../testing/run-cli.js';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const hub = await FakeHub.start();
  const dir = await tempDir();
  t.after(async () => {
    await hub.close();
    await dir.cleanup();
  });
  return {
    hub,
    dir,
    env: { XDG_CONFIG_HOME: join(dir.path, 'xdg') },
    file: join(dir.path, 'xdg', 'homeostat', 'config.json'),
  };
}

test('login checks the token, writes the config 0600 and never prints the token', async (t) => {
  const { hub, env, file } = await setup(t);
  const run = await runCli(['login', '--server', `${hub.url}/`, '--token', 'operator-secret'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, `logged in to ${hub.url} as operator (operator)\n`);
  assert.doesNotMatch(run.stdout + run.stderr, /operator-secret/);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { server: hub.url, token: 'operator-secret' });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal(hub.requests[0]?.path, '/api/v1/whoami');
  assert.equal(hub.requests[0]?.authorization, 'Bearer operator-secret');

  // Later commands use the saved server and token.
  const get = await runCli(['get', 'devices'], { env });
  assert.equal(get.code, 0, get.stderr);
  assert.equal(hub.requests.at(-1)?.authorization, 'Bearer operator-secret');
});

test('login reads the token from stdin with --token-stdin', async (t) => {
  const { hub, env, file } = await setup(t);
  const run = await runCli(['--server', hub.url, 'login', '--token-stdin'], { env, stdin: 'viewer-secret\n' });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, `logged in to ${hub.url} as viewer (viewer)\n`);
  assert.equal(JSON.parse(await readFile(file, 'utf8')).token, 'viewer-secret');
});

test('login with a refused token writes nothing and does not echo the token', async (t) => {
  const { hub, env, file } = await setup(t);
  const run = await runCli(['login', '--server', hub.url, '--token', 'wrong-secret'], { env });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: ERR_AUTH_INVALID: /);
  assert.match(run.stderr, /hint: log in again/);
  assert.doesNotMatch(run.stdout + run.stderr, /wrong-secret/);
  await assert.rejects(stat(file), { code: 'ENOENT' });
});

test('login without a server or token is a usage error', async (t) => {
  const { env, hub } = await setup(t);
  const noServer = await runCli(['login', '--token', 'x'], { env });
  assert.equal(noServer.code, 2);
  assert.match(noServer.stderr, /login needs --server URL/);
  const noToken = await runCli(['login', '--server', hub.url], { env });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /login needs a token/);
  const both = await runCli(['login', '--server', hub.url, '--token', 'x', '--token-stdin'], { env });
  assert.equal(both.code, 2);
  assert.equal(hub.requests.length, 0);
});
