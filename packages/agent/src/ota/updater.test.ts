import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeClock, newSigningKey, type SigningKey, signMessage } from '@homeostat/kit';
import { type ArtifactManifest, canonicalJson, type SignedManifest } from '@homeostat/protocol';
import { type DurableRecord, FileRecord } from './record.js';
import { FileBootSlots, type SlotContent } from './slots.js';
import { TrustStore } from './trust.js';
import {
  type ArtifactSource,
  type Journal,
  type Probe,
  planUpdate,
  UPDATE_STEPS,
  Updater,
  type UpdateStep,
} from './updater.js';

const NOW = 1_700_000_000_000;
const image = Buffer.from('firmware 1.1.0 '.repeat(1000));
const OLD: SlotContent = { name: 'fw', version: '1.0.0', sha256: 'a'.repeat(64), size: 3 };

function sign<T>(signed: T, key: SigningKey) {
  return { signed, signatures: [{ keyId: key.keyId, sig: signMessage(canonicalJson(signed), key.privateKeyPem) }] };
}

class Killed extends Error {}

/** A device's data directory: slots with version 1.0.0 committed in slot a, trust, a source. */
function device(t: { after(fn: () => void): void }, bytes = image) {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-ota-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = newSigningKey();
  const signing = newSigningKey();
  const clock = new FakeClock(NOW);
  const open = (slotBytes?: number) => {
    const slots = new FileBootSlots({ dir: join(dir, 'slots'), ...(slotBytes ? { slotBytes } : {}) });
    const trust = new TrustStore({ root: { keyId: root.keyId, publicKey: root.publicKey }, dataDir: dir });
    return { slots, trust };
  };
  const { slots, trust } = open();
  trust.acceptTrustedKeys(
    sign(
      {
        type: 'trusted-keys',
        version: 1,
        expiresAt: NOW + 1e10,
        keys: [{ keyId: signing.keyId, publicKey: signing.publicKey }],
      },
      root,
    ),
    NOW,
  );
  // Version 1.0.0 running in slot a.
  const old = join(dir, 'old.bin');
  appendFileSync(old, 'old');
  slots.stage(old, OLD);
  slots.switchToStaged(NOW);
  slots.boot();
  slots.commit();
  trust.recordInstalled(OLD);
  const manifest = (over: Partial<ArtifactManifest> = {}): SignedManifest =>
    sign(
      {
        type: 'artifact',
        name: 'fw',
        version: '1.1.0',
        targetModels: ['pump-a1'],
        sha256: createHash('sha256').update(bytes).digest('hex'),
        size: bytes.length,
        createdAt: NOW,
        expiresAt: NOW + 1e9,
        ...over,
      } satisfies ArtifactManifest,
      signing,
    );
  const source = (served: Buffer = bytes): ArtifactSource & { offsets: number[] } => {
    const offsets: number[] = [];
    return {
      offsets,
      async download(_m, file, offset) {
        offsets.push(offset);
        appendFileSync(file, served.subarray(offset));
      },
    };
  };
  const journalFile = () => new FileRecord<Journal>(join(dir, 'ota', 'update.json'));
  const updater = (
    o: {
      probe?: Probe;
      source?: ArtifactSource;
      onStep?: (s: UpdateStep) => void;
      slotBytes?: number;
      journal?: DurableRecord<Journal>;
    } = {},
  ) => {
    const parts = open(o.slotBytes);
    return {
      ...parts,
      updater: new Updater({
        dir: join(dir, 'ota'),
        journal: o.journal ?? journalFile(),
        ...parts,
        source: o.source ?? source(),
        probe: o.probe ?? (async () => ({ healthy: true })),
        clock,
        device: { model: 'pump-a1' },
        probeWindowMs: 10_000,
        probeEveryMs: 1000,
        ...(o.onStep ? { onStep: (s: UpdateStep) => o.onStep?.(s) } : {}),
      }),
    };
  };
  return { dir, clock, manifest, source, updater, journalFile };
}

const running = (slots: FileBootSlots) => {
  const s = slots.read();
  return s.slots[s.active]?.version;
};

test('an update is checked, downloaded, verified, staged, switched, probed and committed', async (t) => {
  const d = device(t);
  const steps: UpdateStep[] = [];
  const { updater, slots, trust } = d.updater({ onStep: (s) => steps.push(s) });
  const outcome = await updater.install(d.manifest(), new AbortController().signal);
  assert.equal(outcome.result, 'committed');
  assert.deepEqual(steps, [...UPDATE_STEPS]);
  assert.equal(running(slots), '1.1.0');
  assert.equal(slots.read().trial, null);
  assert.equal(trust.highestInstalled('fw'), '1.1.0');
  assert.deepEqual(readFileSync(slots.artifactPath(slots.read().active)), image);
});

test('the journal is written twice per update: at install and right after the switch', async (t) => {
  const d = device(t);
  const file = d.journalFile();
  const written: (UpdateStep | null)[] = [];
  const journal: DurableRecord<Journal> = {
    read: () => file.read(),
    write: (value) => {
      written.push(value.done);
      file.write(value);
    },
    clear: () => file.clear(),
  };
  const seen: string[] = [];
  const { updater } = d.updater({ journal, onStep: (s) => seen.push(`${s}: ${file.read()?.done ?? null}`) });
  const outcome = await updater.install(d.manifest(), new AbortController().signal);
  assert.equal(outcome.result, 'committed');
  assert.deepEqual(written, [null, 'switch']);
  // Every step is still reported, and the file on disk says what a restart at that point needs.
  assert.deepEqual(seen, [
    'check: null',
    'download: null',
    'verify: null',
    'stage: null',
    'switch: switch',
    'probe: switch',
    'commit: switch',
  ]);
  assert.equal(file.read(), null);
});

test('a version that fails its probe is rolled back by the device itself', async (t) => {
  const d = device(t);
  let probes = 0;
  const probe: Probe = async () => {
    probes++;
    return { healthy: false, reason: 'module heating crash-looping' };
  };
  const { updater, slots, trust } = d.updater({ probe });
  const done = updater.install(d.manifest(), new AbortController().signal);
  for (let i = 0; i < 12; i++) await d.clock.advance(1000);
  const outcome = await done;
  assert.equal(outcome.result, 'rolled-back');
  assert.ok(outcome.result === 'rolled-back' && outcome.code === 'ERR_UPDATE_PROBE_FAILED');
  assert.match(outcome.result === 'rolled-back' ? outcome.reason : '', /module heating crash-looping/);
  assert.ok(probes >= 10, `probed ${probes} times over the window`);
  assert.equal(running(slots), '1.0.0');
  assert.equal(trust.highestInstalled('fw'), '1.0.0');
  assert.equal(updater.journal(), null);
});

test('bad updates are refused with their own codes and the device keeps its version', async (t) => {
  const d = device(t);
  const half = image.subarray(0, 1000);
  const tampered = Buffer.from(image);
  tampered[10] = 0;
  const cases: [string, SignedManifest, { source?: ArtifactSource; slotBytes?: number }, string][] = [
    ['downgrade', d.manifest({ version: '0.9.0' }), {}, 'ERR_UPDATE_DOWNGRADE'],
    ['replayed manifest', d.manifest({ version: '1.0.0' }), {}, 'ERR_UPDATE_REPLAYED'],
    ['expired', d.manifest({ expiresAt: NOW - 1 }), {}, 'ERR_UPDATE_EXPIRED'],
    ['wrong model', d.manifest({ targetModels: ['mower-x'] }), {}, 'ERR_UPDATE_WRONG_TARGET'],
    ['tampered file', d.manifest(), { source: d.source(tampered) }, 'ERR_UPDATE_HASH'],
    ['truncated download', d.manifest(), { source: d.source(half) }, 'ERR_UPDATE_SIZE'],
    ['slot too small', d.manifest(), { slotBytes: 100 }, 'ERR_UPDATE_DISK_FULL'],
  ];
  for (const [what, manifest, o, code] of cases) {
    const { updater, slots } = d.updater(o);
    const outcome = await updater.install(manifest, new AbortController().signal);
    assert.equal(outcome.result, 'refused', what);
    assert.equal(outcome.result === 'refused' ? outcome.code : '', code, what);
    assert.equal(running(slots), '1.0.0', what);
    assert.equal(slots.read().trial, null, what);
    assert.equal(updater.journal(), null, what);
  }
});

test('an interrupted download resumes from the bytes it has', async (t) => {
  const d = device(t);
  let calls = 0;
  const flaky: ArtifactSource & { offsets: number[] } = {
    offsets: [],
    async download(_m, file, offset) {
      flaky.offsets.push(offset);
      if (calls++ === 0) {
        appendFileSync(file, image.subarray(0, 4000));
        throw new Error('connection reset');
      }
      appendFileSync(file, image.subarray(offset));
    },
  };
  const { updater, slots } = d.updater({ source: flaky });
  await assert.rejects(updater.install(d.manifest(), new AbortController().signal), /connection reset/);
  const outcome = await updater.resume(slots.boot(), new AbortController().signal);
  assert.equal(outcome.result, 'committed');
  assert.deepEqual(flaky.offsets, [0, 4000]);
});

test('killed after any step, the agent starts on a valid version and finishes or rolls back', async (t) => {
  for (const killAfter of [...UPDATE_STEPS, 'during-probe'] as const) {
    const d = device(t);
    const first = new AbortController();
    const kill = () => {
      first.abort();
      throw new Killed(String(killAfter));
    };
    const { updater } = d.updater({
      onStep: (s) => s === killAfter && kill(),
      probe: async () => (killAfter === 'during-probe' ? kill() : { healthy: true }),
    });
    await assert.rejects(updater.install(d.manifest(), first.signal), Killed);

    // The restart: new objects on the same files, the slots' boot first.
    const again = d.updater();
    const boot = again.slots.boot();
    const state = again.slots.read();
    assert.ok(state.slots[state.active] !== null, `${killAfter}: the active slot holds a version`);
    const plan = planUpdate(again.updater.journal(), boot, state);
    const outcome = await again.updater.resume(boot, new AbortController().signal);
    const version = running(again.slots);
    if (['switch', 'probe', 'during-probe'].includes(killAfter)) {
      // A restart while on trial: the new version never committed, the old one runs.
      assert.equal(plan, 'interrupted', killAfter);
      assert.ok(outcome.result === 'rolled-back' && outcome.code === 'ERR_UPDATE_INTERRUPTED', killAfter);
      assert.equal(version, '1.0.0', killAfter);
      assert.equal(again.trust.highestInstalled('fw'), '1.0.0', killAfter);
    } else {
      assert.equal(outcome.result, 'committed', killAfter);
      assert.equal(version, '1.1.0', killAfter);
      assert.equal(again.trust.highestInstalled('fw'), '1.1.0', killAfter);
    }
    assert.equal(again.slots.read().trial, null, killAfter);
    assert.equal(again.updater.journal(), null, killAfter);
  }
});

test('the plan after a restart, for each journal and boot', () => {
  const m = { signed: { name: 'fw', version: '1.1.0', sha256: 'b'.repeat(64) } } as SignedManifest;
  const state = (version: string) => ({
    active: 'b' as const,
    trial: null,
    slots: { a: OLD, b: { ...OLD, version, sha256: version === '1.1.0' ? 'b'.repeat(64) : OLD.sha256 } },
  });
  const normal = { kind: 'normal' } as const;
  assert.deepEqual(planUpdate(null, normal, state('1.0.0')), []);
  assert.deepEqual(planUpdate({ manifest: m, done: null }, normal, state('1.0.0')), [...UPDATE_STEPS]);
  assert.deepEqual(planUpdate({ manifest: m, done: 'download' }, normal, state('1.0.0')), [
    'verify',
    'stage',
    'switch',
    'probe',
    'commit',
  ]);
  const trial = { kind: 'trial', trial: { previous: 'a', since: NOW, boots: 1 } } as const;
  assert.deepEqual(planUpdate({ manifest: m, done: 'stage' }, trial, state('1.1.0')), ['probe', 'commit']);
  assert.equal(
    planUpdate({ manifest: m, done: 'switch' }, { kind: 'rolled-back', from: null }, state('1.0.0')),
    'interrupted',
  );
  // Killed between the slots' commit and the journal: finish recording it.
  assert.deepEqual(planUpdate({ manifest: m, done: 'probe' }, normal, state('1.1.0')), ['commit']);
  assert.equal(planUpdate({ manifest: m, done: 'probe' }, normal, state('1.0.0')), 'interrupted');
});
