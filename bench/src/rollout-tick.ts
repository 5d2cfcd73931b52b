// `rollout-tick`: what one tick of the rollout controller costs on a fleet of N devices (10,000 by
// default) in a real SQLite store, with a rollout in progress whose wave waits on its devices.
// Three figures, each the mean over many repetitions, in µs:
//
// - `fullReconcileUs`: the rollout read whole and reconciled: every device, every record of the
//   revision. It is what every tick cost before the controller kept an index of its rollouts, and
//   what a tick still costs every 30 s (the resync) or after the rollout itself changed;
// - `idleTickUs`: a tick with nothing changed (no report, no time-out due): the index says so;
// - `oneReportTickUs`: a tick after one device of the rollout reported (`update`): that device
//   alone is read again, then the rollout is planned.
//
// The controller runs on a fake clock, so no real timer fires between repetitions.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { newRevision, openSqliteStore, RolloutController, type Store } from '@homeostat/hub';
import { FakeClock, silentLogger } from '@homeostat/kit';
import { rolloutDefaults } from '@homeostat/protocol';
import { unsignedManifest } from '@homeostat/testing';
import { type Benchmark, type Cleanups, type Figures, intFlag, parseFlagValues, progress, round } from './harness.js';

const USAGE = '--devices N (default 10000) --repeat R (default 200)';

export const rolloutTickBenchmark: Benchmark = {
  summary: "the rollout controller's cost per tick with N devices in SQLite: full reconcile, idle tick, one report",
  usage: USAGE,
  run: (argv, cleanups) => runRolloutTick(argv, cleanups),
};

// The controller hands the manifest to the devices, which check it; it checks nothing itself.
const manifest = unsignedManifest({ revertible: true });

async function runRolloutTick(argv: readonly string[], cleanups: Cleanups): Promise<Figures> {
  const flags = parseFlagValues(argv, ['devices', 'repeat']);
  const n = intFlag('--devices', flags.devices, 10_000, 10, 100_000);
  const repeat = intFlag('--repeat', flags.repeat, 200, 1, 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-rollout-tick-'));
  cleanups.add('data directory', async () => rmSync(dir, { recursive: true, force: true }));
  const store = await openSqliteStore(join(dir, 'hub.db'));
  cleanups.add('store', () => store.close());
  const clock = new FakeClock(1_764_000_000_000);

  progress(`creating ${n} devices`);
  const names = Array.from({ length: n }, (_, i) => `d${String(i).padStart(5, '0')}`);
  for (const name of names) {
    await store.createDevice({
      name,
      uid: name,
      labels: { model: 'm1', site: 'paris' },
      tokenHash: 'x',
      enrollmentGroup: null,
      desired: {},
      createdAt: clock.now(),
    });
    await store.applyReported(name, 1, { firmware: { name: 'fw', version: '1.0.0' } }, null, clock.now());
  }
  const spec = rolloutDefaults({
    selector: 'model=m1',
    artifact: { name: 'fw', version: '1.1.0' },
    strategy: { canary: 50, maxUnavailable: 50, deviceTimeoutMs: 3_600_000 },
  });
  await store.createRollout(
    { name: 'fw', uid: 'u', labels: {}, createdAt: clock.now(), resourceVersion: 1, revision: 1 },
    newRevision('fw', 1, spec, manifest, clock.now(), null),
  );
  const writer = {
    async setDesiredKey(name: string, version: number, key: string, value: unknown) {
      const device = await store.getDevice(name);
      const { [key]: _old, ...rest } = device?.desired.state ?? {};
      await store.replaceDesired(name, version, value === undefined ? rest : { ...rest, [key]: value }, clock.now());
    },
  };
  const controller = new RolloutController({
    store: store as Store,
    clock,
    logger: silentLogger(),
    writer,
    events: { record: () => undefined } as never,
  });
  cleanups.add('controller', () => controller.stop());
  await controller.start();
  await controller.idle();
  // The canary's writes mark its devices: one more tick reads them, then the wave waits on them.
  controller.tick();
  await controller.idle();

  const time = async (label: string, before: () => Promise<void> | void, step: () => void): Promise<number> => {
    let total = 0;
    for (let i = 0; i < repeat; i++) {
      await before();
      const t0 = performance.now();
      step();
      await controller.idle();
      total += performance.now() - t0;
    }
    const us = round((total / repeat) * 1000, 1);
    progress(`${label}: ${us} µs per tick`);
    return us;
  };
  const fullReconcileUs = await time(
    'full reconcile',
    () => undefined,
    () => controller.rolloutChanged('fw'),
  );
  controller.tick();
  await controller.idle();
  const idleTickUs = await time(
    'idle tick',
    () => undefined,
    () => controller.tick(),
  );
  let seq = 2;
  const oneReportTickUs = await time(
    'one report',
    async () => {
      const name = names[seq % 50] ?? 'd00000';
      const update = { name: 'fw', version: '1.1.0', rollout: 'fw', state: 'installing', step: 'download' };
      await store.applyReported(name, seq++, { update: { ...update, at: clock.now() } }, null, clock.now());
      controller.deviceChanged(name);
    },
    () => controller.tick(),
  );
  return {
    devices: n,
    repeat,
    node: process.version,
    fullReconcileUs,
    idleTickUs,
    oneReportTickUs,
  };
}
