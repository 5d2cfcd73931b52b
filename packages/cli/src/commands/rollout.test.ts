// Rollouts in the CLI against a small scripted hub: apply of `kind: Rollout` (checked before
// sending, dry run with the waves), `rollout status` with a bar per wave and the halt's
// evidence, `-w` following the phases until the halt (exit 1), pause, undo, history, get.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  API_VERSION,
  type Rollout,
  type RolloutCounts,
  type RolloutStatus,
  rolloutDefaults,
} from '@homeostat/protocol';
import { runCli, TEST_NOW } from '../testing/run-cli.js';

const counts = (c: Partial<RolloutCounts> = {}): RolloutCounts => ({
  targeted: 10,
  eligible: 10,
  pending: 10,
  updating: 0,
  succeeded: 0,
  failed: 0,
  rolledBack: 0,
  current: 0,
  ahead: 0,
  otherModel: 0,
  held: 0,
  stranded: 0,
  rollbackRequested: 0,
  ...c,
});

function rollout(status: Partial<RolloutStatus> = {}): Rollout {
  return {
    apiVersion: API_VERSION,
    kind: 'Rollout',
    metadata: { name: 'fw', uid: 'u', labels: {}, createdAt: TEST_NOW - 60_000, resourceVersion: 1 },
    spec: rolloutDefaults({ selector: 'model=m1', artifact: { name: 'fw', version: '1.1.0' } }),
    status: {
      phase: 'progressing',
      revision: 1,
      wave: 0,
      waiting: null,
      counts: counts(),
      waves: [0, 1, 2, 3].map((index) => ({
        index,
        targeted: [1, 0, 4, 5][index] ?? 0,
        started: 0,
        updating: 0,
        succeeded: 0,
        failed: 0,
        rolledBack: 0,
      })),
      halt: null,
      startedAt: TEST_NOW - 60_000,
      finishedAt: null,
      ...status,
    },
  };
}

const halted = rollout({
  phase: 'halted',
  counts: counts({ pending: 6, succeeded: 1, failed: 2, rolledBack: 1, stranded: 1, rollbackRequested: 1 }),
  halt: {
    at: TEST_NOW - 5000,
    revision: 1,
    reason: '2 of 3 finished devices failed (abort at 50 %)',
    evidence: { failed: 2, finished: 3 },
  },
});
halted.status.waves[0] = { index: 0, targeted: 4, started: 4, updating: 1, succeeded: 1, failed: 2, rolledBack: 1 };

/** Answers GET /rollouts/fw with each of `frames` in turn (the last one again after), and records requests. */
async function scriptedHub(t: { after(fn: () => Promise<void>): void }, frames: Rollout[]) {
  const requests: { method: string; path: string; body: unknown }[] = [];
  let i = 0;
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push({
        method: req.method ?? '',
        path: `${url.pathname}${url.search}`,
        body: text ? JSON.parse(text) : undefined,
      });
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const frame = frames[Math.min(i, frames.length - 1)] as Rollout;
      if (req.method === 'GET' && url.pathname === '/api/v1/rollouts/fw') {
        i++;
        return send(200, frame);
      }
      if (req.method === 'GET' && url.pathname === '/api/v1/rollouts') return send(200, { items: [frame] });
      if (req.method === 'GET' && url.pathname.endsWith('/history')) {
        const h = (revision: number, phase: string, extra = {}) => ({
          revision,
          artifact: { name: 'fw', version: '1.1.0' },
          phase,
          createdAt: TEST_NOW - 60_000,
          finishedAt: null,
          undoOf: null,
          counts: counts({ succeeded: 1, failed: 2, stranded: 1 }),
          halt: null,
          ...extra,
        });
        return send(200, {
          name: 'fw',
          items: [h(1, 'halted', { halt: halted.status.halt }), h(2, 'progressing', { undoOf: 1 })],
        });
      }
      if (req.method === 'PUT' && url.searchParams.get('dryRun') === 'true') {
        return send(200, {
          rollout: frame,
          created: true,
          newRevision: false,
          waves: [
            { index: 0, devices: ['d00'] },
            { index: 1, devices: ['d01', 'd02'] },
          ],
          excluded: { current: ['d09'], ahead: [], otherModel: [], held: [] },
        });
      }
      if (req.method === 'PUT') return send(201, frame);
      if (req.method === 'POST') return send(200, frame);
      if (req.method === 'DELETE') {
        if (url.searchParams.get('force') === 'true') return res.writeHead(204).end();
        return send(409, { error: { code: 'ERR_ROLLOUT_PHASE', message: 'rollout fw revision 1 is progressing' } });
      }
      return send(404, { error: { code: 'ERR_NOT_FOUND', message: 'no route' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const env = { HOMEOSTAT_SERVER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, HOMEOSTAT_TOKEN: 'x' };
  return { requests, env };
}

const MANIFEST = `apiVersion: homeostat/v1
kind: Rollout
metadata: {name: fw}
spec:
  selector: model=m1
  artifact: {name: fw, version: 1.1.0}
  strategy: {canary: 1, waves: [0.5, 1], maxUnavailable: 2}
  abort: {failureRate: 0.5, minDevices: 3}
`;

test('apply sends a Rollout; an invalid one lists its problems and sends nothing; the dry run shows the waves', async (t) => {
  const { requests, env } = await scriptedHub(t, [rollout()]);
  const bad = await runCli(['apply', '-f', '-'], {
    env,
    stdin: MANIFEST.replace('[0.5, 1]', '[0.5, 0.4]').replace('maxUnavailable: 2', 'maxUnavailable: 0'),
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /doc 1: \/spec\/strategy\/maxUnavailable: /);
  assert.equal(requests.length, 0);

  const ok = await runCli(['apply', '-f', '-'], { env, stdin: MANIFEST });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'rollout/fw created\n');
  assert.deepEqual(requests[0], {
    method: 'PUT',
    path: '/api/v1/rollouts/fw',
    body: {
      labels: {},
      spec: {
        selector: 'model=m1',
        artifact: { name: 'fw', version: '1.1.0' },
        strategy: { canary: 1, waves: [0.5, 1], maxUnavailable: 2 },
        abort: { failureRate: 0.5, minDevices: 3 },
      },
    },
  });

  const dry = await runCli(['apply', '-f', '-', '--dry-run'], { env, stdin: MANIFEST });
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(
    dry.stdout,
    [
      'rollout/fw would be created (dry run): fw 1.1.0',
      '  canary: 1 device: d00',
      '  wave 1: 2 devices: d01, d02',
      '  skipped, already on it: d09',
      '',
    ].join('\n'),
  );
});

test('status shows a bar per wave, the halt with its evidence, and what it leaves behind', async (t) => {
  const { env } = await scriptedHub(t, [halted]);
  const run = await runCli(['rollout', 'status', 'fw'], { env });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split('\n');
  assert.equal(lines[0], 'rollout/fw  revision 1  fw 1.1.0  halted');
  assert.ok(
    lines.includes('canary  [######xxxxxxxxxxxx~~~~~~] 4/4 started, 1 ok, 2 failed, 1 rolled back'),
    run.stdout,
  );
  assert.match(
    run.stdout,
    /halted 2025-01-01T11:59:55.000Z \(5s ago\): 2 of 3 finished devices failed \(abort at 50 %\)/,
  );
  assert.match(run.stdout, /evidence: failed=2 finished=3/);
  assert.match(run.stdout, /1 device committed 1.1.0 and cannot be rolled back/);
  const json = await runCli(['rollout', 'status', 'fw', '-o', 'json'], { env });
  assert.equal(JSON.parse(json.stdout).status.phase, 'halted');
});

test('status -w polls every second, prints each change, and fails when the revision halts', async (t) => {
  const started = rollout({ counts: counts({ pending: 9, updating: 1 }) });
  started.status.waves[0] = { index: 0, targeted: 1, started: 1, updating: 1, succeeded: 0, failed: 0, rolledBack: 0 };
  const waits: number[] = [];
  const hub = await scriptedHub(t, [rollout(), rollout(), started, halted]);
  const run = await runCli(['rollout', 'status', 'fw', '-w'], {
    env: hub.env,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /rollout fw revision 1 is halted/);
  assert.deepEqual(waits, [1000, 1000, 1000]);
  assert.equal(run.stdout.split('rollout/fw  revision').length - 1, 3, 'three distinct frames');
  assert.equal(hub.requests.length, 4);
});

test('pause, undo, history and get rollouts', async (t) => {
  const { requests, env } = await scriptedHub(t, [rollout({ phase: 'paused', counts: counts({ ahead: 2 }) })]);
  assert.equal((await runCli(['rollout', 'pause', 'fw'], { env })).stdout, 'rollout/fw paused (revision 1)\n');
  const undo = await runCli(['rollout', 'undo', 'fw', '--to-revision', '1'], { env });
  assert.equal(undo.code, 0, undo.stderr);
  assert.match(undo.stdout, /rollout\/fw undone: revision 1 targets fw 1.1.0\n2 devices run a newer version/);
  assert.deepEqual(
    requests.map((r) => [r.method, r.path, r.body]),
    [
      ['POST', '/api/v1/rollouts/fw/pause', undefined],
      ['POST', '/api/v1/rollouts/fw/undo', { toRevision: 1 }],
    ],
  );
  assert.equal((await runCli(['rollout', 'undo', 'fw', '--to-revision', '0'], { env })).code, 2);
  const history = await runCli(['rollout', 'history', 'fw'], { env });
  assert.match(history.stdout, /^REVISION +ARTIFACT +PHASE/);
  assert.match(history.stdout, /1 +fw 1.1.0 +halted +1m +1 +2 +1 +halted: 2 of 3 finished devices failed/);
  assert.match(history.stdout, /2 +fw 1.1.0 +progressing .* undo to revision 1/);
  const get = await runCli(['get', 'rollouts'], { env });
  assert.match(get.stdout, /fw +1 +fw 1.1.0 +paused +0\/3 +0\/10 +0 +1m/);
});

test('delete rollout: the hub refuses a progressing one; --force sends force=true', async (t) => {
  const { requests, env } = await scriptedHub(t, [rollout()]);
  const refused = await runCli(['delete', 'rollout', 'fw'], { env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ERR_ROLLOUT_PHASE/);
  const forced = await runCli(['delete', 'rollout', 'fw', '--force'], { env });
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stdout, 'rollout/fw deleted\n');
  assert.deepEqual(
    requests.map((r) => `${r.method} ${r.path}`),
    ['DELETE /api/v1/rollouts/fw', 'DELETE /api/v1/rollouts/fw?force=true'],
  );
});
