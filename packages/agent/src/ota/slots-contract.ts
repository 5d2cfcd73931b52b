// The BootSlots contract suite: every implementation runs these same tests (slots.test.ts runs
// them on FileBootSlots and MemoryBootSlots), so the updater can rely on one behaviour.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type BootSlots, otherSlot, type SlotContent } from './slots.js';

export interface SlotsFixture {
  /** Fresh slots; `slotBytes` caps one slot. */
  open(options?: { slotBytes?: number }): BootSlots;
  /** The same storage seen by a new instance (a restart); memory slots return the same one. */
  reopen(slots: BootSlots): BootSlots;
}

const content = (version: string, bytes: Buffer): SlotContent => ({
  name: 'fw',
  version,
  sha256: 'a'.repeat(64),
  size: bytes.length,
});

export function bootSlotsContract(name: string, fixture: SlotsFixture): void {
  describe(`BootSlots contract: ${name}`, () => {
    const file = (t: { after(fn: () => void): void }, text: string): string => {
      const dir = mkdtempSync(join(tmpdir(), 'homeostat-slots-file-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'artifact');
      writeFileSync(path, text);
      return path;
    };
    const running = (slots: BootSlots) => {
      const s = slots.read();
      return s.slots[s.active]?.version ?? null;
    };

    test('starts on slot a, empty, with no trial and a normal boot', () => {
      const slots = fixture.open();
      assert.deepEqual(slots.read(), { active: 'a', trial: null, slots: { a: null, b: null } });
      assert.deepEqual(slots.boot(), { kind: 'normal' });
      assert.equal(slots.artifact('a'), null);
    });

    test('stage, switch, boot, commit: the new version stays, its bytes readable', (t) => {
      const slots = fixture.open();
      slots.stage(file(t, 'one'), content('1.0.0', Buffer.from('one')));
      assert.equal(running(slots), null, 'staging does not switch');
      const trial = slots.switchToStaged(5);
      assert.deepEqual(trial, { previous: 'a', since: 5, boots: 0 });
      assert.equal(slots.boot().kind, 'trial');
      slots.commit();
      const again = fixture.reopen(slots);
      assert.equal(running(again), '1.0.0');
      assert.equal(again.read().trial, null);
      assert.equal(again.artifact(again.read().active)?.toString(), 'one');
      assert.deepEqual(again.boot(), { kind: 'normal' });
    });

    test('a second boot on trial rolls back; so does rollback()', (t) => {
      const slots = fixture.open();
      slots.stage(file(t, 'one'), content('1.0.0', Buffer.from('one')));
      slots.switchToStaged(1);
      slots.boot();
      slots.commit();
      slots.stage(file(t, 'two'), content('2.0.0', Buffer.from('two')));
      slots.switchToStaged(2);
      assert.equal(slots.boot().kind, 'trial');
      const restarted = fixture.reopen(slots);
      const outcome = restarted.boot();
      assert.equal(outcome.kind, 'rolled-back');
      assert.equal(outcome.kind === 'rolled-back' ? outcome.from?.version : null, '2.0.0');
      assert.equal(running(restarted), '1.0.0');
      restarted.stage(file(t, 'three'), content('3.0.0', Buffer.from('three')));
      restarted.switchToStaged(3);
      restarted.rollback();
      assert.equal(running(restarted), '1.0.0');
      assert.equal(restarted.read().trial, null);
    });

    test('revert goes back to the version committed before, durably; never on trial nor to an empty slot', (t) => {
      const slots = fixture.open();
      slots.stage(file(t, 'one'), content('1.0.0', Buffer.from('one')));
      slots.switchToStaged(1);
      slots.boot();
      slots.commit();
      assert.throws(() => slots.revert(), /holds nothing/);
      slots.stage(file(t, 'two'), content('2.0.0', Buffer.from('two')));
      slots.switchToStaged(2);
      assert.throws(() => slots.revert(), /on trial/);
      slots.boot();
      slots.commit();
      assert.equal(running(slots), '2.0.0');
      slots.revert();
      assert.equal(running(slots), '1.0.0');
      const restarted = fixture.reopen(slots);
      assert.deepEqual(restarted.boot(), { kind: 'normal' });
      assert.equal(running(restarted), '1.0.0');
      const state = restarted.read();
      assert.equal(state.slots[otherSlot(state.active)]?.version, '2.0.0', 'the slot left keeps its content');
    });

    test('no staging on trial, no switch to an empty slot', (t) => {
      const slots = fixture.open();
      assert.throws(() => slots.switchToStaged(1), /holds nothing/);
      slots.stage(file(t, 'one'), content('1.0.0', Buffer.from('one')));
      slots.switchToStaged(1);
      assert.throws(() => slots.stage(file(t, 'two'), content('2.0.0', Buffer.from('two'))), /on trial/);
      assert.throws(() => slots.switchToStaged(2), /on trial/);
    });

    test('an artifact larger than a slot: ERR_UPDATE_DISK_FULL, the active slot untouched', (t) => {
      const slots = fixture.open({ slotBytes: 4 });
      slots.stage(file(t, 'one'), content('1.0.0', Buffer.from('one')));
      slots.switchToStaged(1);
      slots.boot();
      slots.commit();
      assert.throws(
        () => slots.stage(file(t, 'too large'), content('2.0.0', Buffer.from('too large'))),
        (err: Error & { code?: string }) => err.code === 'ERR_UPDATE_DISK_FULL',
      );
      assert.equal(running(slots), '1.0.0');
      const state = slots.read();
      assert.equal(state.slots[otherSlot(state.active)], null, 'the inactive slot holds nothing half-written');
      assert.throws(() => slots.switchToStaged(2), /holds nothing/);
    });
  });
}
