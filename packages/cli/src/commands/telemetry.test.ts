// `homeostat telemetry`: the query it sends and the table it prints.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeHub, makeDevice } from '../testing/fake-hub.js';
import { runCli, TEST_NOW } from '../testing/run-cli.js';

test('telemetry --since --limit queries from now minus the duration and prints points', async (t) => {
  const hub = await FakeHub.start(() => TEST_NOW);
  t.after(() => hub.close());
  hub.addDevice(makeDevice('thermo-1', TEST_NOW));
  hub.telemetry.set('thermo-1/temperature', [
    { ts: TEST_NOW - 20_000, seq: 1, value: 20.5 },
    { ts: TEST_NOW - 10_000, seq: 2, value: 20.75 },
    { ts: TEST_NOW - 5_000, seq: 3, value: 21 },
  ]);
  const env = { HOMEOSTAT_SERVER: hub.url, HOMEOSTAT_TOKEN: 'viewer-secret' };
  const run = await runCli(['telemetry', 'thermo-1', '--metric', 'temperature', '--since', '10m', '--limit', '2'], {
    env,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(hub.requests.at(-1)?.query, { metric: 'temperature', from: String(TEST_NOW - 600_000), limit: '2' });
  assert.equal(
    run.stdout,
    'TIME                       SEQ   VALUE\n2025-01-01T11:59:40.000Z   1     20.5\n2025-01-01T11:59:50.000Z   2     20.75\n',
  );
  assert.match(run.stderr, /truncated to 2 points/);

  const bad = await runCli(['telemetry', 'thermo-1', '--metric', 'temperature', '--since', 'ten'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid --since "ten"/);
  const badMetric = await runCli(['telemetry', 'thermo-1', '--metric', '9lives'], { env });
  assert.equal(badMetric.code, 2);
});
