// The real binary in a child process: the shebang entry point, its wiring, and exit codes.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeHub } from './testing/fake-hub.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A minimal environment: no HOME config or HOMEOSTAT_* variable of the developer leaks in.
    execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

test('the homeostat binary lists devices and exits 0, and exits 2 on a usage error', async (t) => {
  const hub = await FakeHub.start();
  t.after(() => hub.close());
  const env = {
    HOMEOSTAT_SERVER: hub.url,
    HOMEOSTAT_TOKEN: 'viewer-secret',
    HOMEOSTAT_CONFIG: '/nonexistent/config.json',
  };
  const ok = await run(['get', 'devices', '-o', 'json'], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), { items: [] });

  const usage = await run(['get', 'devices', '--nope'], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown option '--nope'/);

  const missing = await run(['describe', 'device', 'ghost'], env);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'error: ERR_DEVICE_NOT_FOUND: no device named ghost\n');
});
