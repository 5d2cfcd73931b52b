// Where the server and token come from: flags, then env, then the login file; and the file's mode.

import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { configPath, readConfig, resolveConnection, writeConfig } from './config.js';
import { CliError } from './errors.js';
import { type CliIo, nodeIo } from './io.js';
import { tempDir } from './testing/run-cli.js';

function ioWith(env: Record<string, string | undefined>, homeDir = '/home/someone'): CliIo {
  return nodeIo({ env, homeDir, stdout: () => {}, stderr: () => {} });
}

test('configPath: HOMEOSTAT_CONFIG, then XDG_CONFIG_HOME, then ~/.config', () => {
  assert.equal(configPath(ioWith({ HOMEOSTAT_CONFIG: '/x/c.json', XDG_CONFIG_HOME: '/xdg' })), '/x/c.json');
  assert.equal(configPath(ioWith({ XDG_CONFIG_HOME: '/xdg' })), '/xdg/homeostat/config.json');
  assert.equal(configPath(ioWith({})), '/home/someone/.config/homeostat/config.json');
});

test('resolveConnection: flags win over env, env over the file', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'config.json');
  await writeFile(file, JSON.stringify({ server: 'http://file:1', token: 'file-token' }));
  const env = { HOMEOSTAT_CONFIG: file, HOMEOSTAT_SERVER: 'http://env:2', HOMEOSTAT_TOKEN: 'env-token' };

  assert.deepEqual(await resolveConnection(ioWith(env), { server: 'http://flag:3/', token: 'flag-token' }), {
    server: 'http://flag:3',
    token: 'flag-token',
  });
  assert.deepEqual(await resolveConnection(ioWith(env), {}), { server: 'http://env:2', token: 'env-token' });
  assert.deepEqual(await resolveConnection(ioWith({ HOMEOSTAT_CONFIG: file }), {}), {
    server: 'http://file:1',
    token: 'file-token',
  });
  // Mixed: the token from env, the server from the file.
  assert.deepEqual(await resolveConnection(ioWith({ HOMEOSTAT_CONFIG: file, HOMEOSTAT_TOKEN: 'env-token' }), {}), {
    server: 'http://file:1',
    token: 'env-token',
  });
});

test("resolveConnection: the file's token is never sent to another server", async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'config.json');
  await writeFile(file, JSON.stringify({ server: 'http://file:1', token: 'file-token' }));
  await assert.rejects(
    resolveConnection(ioWith({ HOMEOSTAT_CONFIG: file }), { server: 'http://elsewhere:9' }),
    (err) => {
      assert.ok(err instanceof CliError);
      assert.match(err.message, /no API token for http:\/\/elsewhere:9 \(the saved token is for http:\/\/file:1\)/);
      assert.doesNotMatch(err.message + err.details.join(), /file-token/);
      return true;
    },
  );
  // The same server written differently (trailing slash) still counts as the same.
  const same = await resolveConnection(ioWith({ HOMEOSTAT_CONFIG: file }), { server: 'http://file:1/' });
  assert.equal(same.token, 'file-token');
});

test('resolveConnection: nothing configured says how to log in', async () => {
  await assert.rejects(resolveConnection(ioWith({ HOMEOSTAT_CONFIG: '/nonexistent/c.json' }), {}), (err) => {
    assert.ok(err instanceof CliError);
    assert.equal(err.message, 'no hub server configured');
    assert.match(err.details.join('\n'), /homeostat login --server URL --token TOKEN/);
    return true;
  });
});

test('resolveConnection: a bad server URL is a usage error', async () => {
  await assert.rejects(resolveConnection(ioWith({}), { server: 'localhost:8080', token: 't' }), (err) => {
    assert.ok(err instanceof CliError);
    assert.equal(err.exitCode, 2);
    return true;
  });
});

test('readConfig: a damaged file is reported with every problem, not taken as logged out', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'config.json');
  await writeFile(file, JSON.stringify({ server: 42 }));
  await assert.rejects(readConfig(ioWith({ HOMEOSTAT_CONFIG: file })), (err) => {
    assert.ok(err instanceof CliError);
    assert.deepEqual(err.details.slice(0, 2), [
      '/server: must be a non-empty string',
      '/token: must be a non-empty string',
    ]);
    return true;
  });
  await writeFile(file, '{not json');
  await assert.rejects(readConfig(ioWith({ HOMEOSTAT_CONFIG: file })), /not valid JSON/);
});

test('writeConfig: creates the directory and writes mode 0600, even over a wider file', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const io = ioWith({ XDG_CONFIG_HOME: join(dir.path, 'xdg') });
  const path = await writeConfig(io, { server: 'http://a:1', token: 'secret' });
  assert.equal(path, join(dir.path, 'xdg', 'homeostat', 'config.json'));
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir.path, 'xdg', 'homeostat'))).mode & 0o777, 0o700);
  assert.deepEqual(await readConfig(io), { server: 'http://a:1', token: 'secret' });

  await writeFile(path, '{}', { mode: 0o644 });
  await chmod(path, 0o644);
  await writeConfig(io, { server: 'http://a:1', token: 'other' });
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});
