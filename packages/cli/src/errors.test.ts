// How failures reach the user: the hub's error body, an unreachable hub, usage mistakes.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { FakeHub } from './testing/fake-hub.js';
import { runCli } from './testing/run-cli.js';

test('an HTTP error prints `error: CODE: message`, each detail, and exits 1', async (t) => {
  const hub = await FakeHub.start();
  t.after(() => hub.close());
  hub.failNext(400, {
    error: { code: 'ERR_VALIDATION', message: 'the body is invalid', details: ['/labels/a: bad', '/desired: bad'] },
  });
  const run = await runCli(['get', 'devices'], {
    env: { HOMEOSTAT_SERVER: hub.url, HOMEOSTAT_TOKEN: 'viewer-secret' },
  });
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, 'error: ERR_VALIDATION: the body is invalid\n  /labels/a: bad\n  /desired: bad\n');
});

test('a non-JSON error (a proxy page) still prints the status', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<h1>Bad gateway</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const run = await runCli(['get', 'devices'], { env: { HOMEOSTAT_SERVER: url, HOMEOSTAT_TOKEN: 't' } });
  assert.equal(run.code, 1);
  assert.equal(run.stderr, 'error: HTTP 502: Bad Gateway: <h1>Bad gateway</h1>\n');
});

test('a response that breaks the contract is reported, not rendered', async (t) => {
  const hub = await FakeHub.start();
  t.after(() => hub.close());
  hub.failNext(200, { items: [{ name: 'not a device' }] });
  const run = await runCli(['get', 'devices'], {
    env: { HOMEOSTAT_SERVER: hub.url, HOMEOSTAT_TOKEN: 'viewer-secret' },
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: unexpected response from the hub to GET \/api\/v1\/devices\n {2}\/items\/0/);
});

test('an unreachable hub says so, with the URL and the reason', async () => {
  // Bind then close a port so that nothing listens on it.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const run = await runCli(['get', 'devices', '--server', url, '--token', 'sekrit']);
  assert.equal(run.code, 1);
  assert.equal(run.stderr, `error: cannot reach the hub at ${url} (ECONNREFUSED)\n`);
  assert.doesNotMatch(run.stderr, /sekrit/);
});

test('no server configured explains how to log in', async () => {
  const run = await runCli(['get', 'devices']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: no hub server configured\n {2}run `homeostat login --server URL --token TOKEN`/);
});

test('usage errors exit 2: unknown command, unknown option, bad -o, missing argument', async () => {
  for (const args of [
    ['frobnicate'],
    ['get', 'devices', '--bogus'],
    ['get', 'devices', '-o', 'xml'],
    ['describe', 'device'],
    ['get'],
    ['apply'],
    ['get', 'devices', 'a', 'b'],
  ]) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.notEqual(run.stderr, '', args.join(' '));
  }
});

test('--help exits 0 and lists the commands on stdout', async () => {
  const run = await runCli(['--help']);
  assert.equal(run.code, 0);
  for (const cmd of ['login', 'get', 'describe', 'delete', 'devices', 'apply', 'twin', 'telemetry', 'tokens']) {
    assert.match(run.stdout, new RegExp(`\\n {2}${cmd}\\b`));
  }
});
