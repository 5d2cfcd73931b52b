// The A/B slots an update is installed into: the port, and its file-system implementation (used
// by the agent and the simulator). A device runs the artifact of its active slot; an update is
// staged into the inactive one, then switched to *on trial*. The trial ends with commit (the new
// version proved healthy) or rollback (back to the previous slot). As with Mender's bootloader
// counter, a restart while on trial that already booted once means the new version did not
// commit before the device went down: it rolls back.
//
// Every change of the boot record is a durable record's write (record.ts: temp file, fsync,
// rename), so a power loss at any moment leaves either the old record or the new one; a slot's
// content appears only once completely written.

import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../errors.js';
import { FileRecord, syncFile } from './record.js';

export type SlotName = 'a' | 'b';

export interface SlotContent {
  name: string;
  version: string;
  sha256: string;
  size: number;
}

export interface Trial {
  /** The slot to go back to. */
  previous: SlotName;
  /** When the switch happened, ms. */
  since: number;
  /** Starts of the agent on this trial: the second one rolls back. */
  boots: number;
}

export interface BootState {
  active: SlotName;
  trial: Trial | null;
  slots: Record<SlotName, SlotContent | null>;
}

export type BootOutcome =
  | { kind: 'normal' }
  | { kind: 'trial'; trial: Trial }
  | { kind: 'rolled-back'; from: SlotContent | null };

export interface BootSlots {
  read(): BootState;
  /** The artifact bytes a slot holds (for the installed version's own checks); null when empty. */
  artifact(slot: SlotName): Buffer | null;
  /**
   * Copies the file into the inactive slot. Throws ERR_UPDATE_DISK_FULL when it does not fit;
   * the slot is then empty and the active one untouched. Refused while on trial.
   */
  stage(file: string, content: SlotContent): void;
  /** Makes the inactive (staged) slot the active one, on trial. */
  switchToStaged(now: number): Trial;
  /** Called once at every agent start, before the updater runs. */
  boot(): BootOutcome;
  /** Ends the trial: the new version stays. */
  commit(): void;
  /** Ends the trial: back to the previous slot. */
  rollback(): void;
  /**
   * Outside a trial, makes the other slot active again: the version committed before the one
   * running (a revert the hub asked for). Throws when a version is on trial or the other slot
   * holds nothing. The slot left keeps its content until the next stage overwrites it.
   */
  revert(): void;
}

export function otherSlot(slot: SlotName): SlotName {
  return slot === 'a' ? 'b' : 'a';
}

export interface FileSlotsOptions {
  /** The directory holding `boot.json` and the slots. */
  dir: string;
  /** Capacity of one slot, bytes (a real slot is a fixed-size partition). Default unlimited. */
  slotBytes?: number;
}

interface BootRecord {
  active: SlotName;
  trial: Trial | null;
}

export class FileBootSlots implements BootSlots {
  readonly #dir: string;
  readonly #slotBytes: number;
  readonly #boot: FileRecord<BootRecord>;

  constructor(options: FileSlotsOptions) {
    this.#dir = options.dir;
    this.#boot = new FileRecord(join(options.dir, 'boot.json'));
    this.#slotBytes = options.slotBytes ?? Number.POSITIVE_INFINITY;
  }

  read(): BootState {
    const record = this.#record();
    return { ...record, slots: { a: this.#content('a'), b: this.#content('b') } };
  }

  artifactPath(slot: SlotName): string {
    return join(this.#dir, `slot-${slot}`, 'artifact');
  }

  artifact(slot: SlotName): Buffer | null {
    if (this.#content(slot) === null) return null;
    return readFileSync(this.artifactPath(slot));
  }

  stage(file: string, content: SlotContent): void {
    const { active, trial } = this.#record();
    if (trial !== null) throw new Error('slots: cannot stage while a version is on trial');
    const slot = otherSlot(active);
    const final = join(this.#dir, `slot-${slot}`);
    const temp = `${final}.staging`;
    rmSync(temp, { recursive: true, force: true });
    // The inactive slot is emptied first: a half-written slot is never taken for a good one.
    rmSync(final, { recursive: true, force: true });
    const size = statSync(file).size;
    if (size > this.#slotBytes) {
      throw new AgentError(
        'ERR_UPDATE_DISK_FULL',
        `${content.name} ${content.version}: ${size} bytes, the slot holds ${this.#slotBytes}`,
      );
    }
    try {
      mkdirSync(temp, { recursive: true });
      copyFileSync(file, join(temp, 'artifact'));
      syncFile(join(temp, 'artifact'));
      new FileRecord<SlotContent>(join(temp, 'content.json')).write(content);
      renameSync(temp, final);
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new AgentError(
          'ERR_UPDATE_DISK_FULL',
          `${content.name} ${content.version}: the disk filled while staging`,
        );
      }
      throw err;
    }
  }

  switchToStaged(now: number): Trial {
    const { active, trial } = this.#record();
    if (trial !== null) throw new Error('slots: a version is on trial already');
    const next = otherSlot(active);
    if (this.#content(next) === null) throw new Error(`slots: slot ${next} holds nothing to switch to`);
    const started: Trial = { previous: active, since: now, boots: 0 };
    this.#write({ active: next, trial: started });
    return started;
  }

  boot(): BootOutcome {
    const record = this.#record();
    if (record.trial === null) return { kind: 'normal' };
    if (record.trial.boots >= 1) {
      const from = this.#content(record.active);
      this.#write({ active: record.trial.previous, trial: null });
      return { kind: 'rolled-back', from };
    }
    const trial = { ...record.trial, boots: record.trial.boots + 1 };
    this.#write({ active: record.active, trial });
    return { kind: 'trial', trial };
  }

  commit(): void {
    const record = this.#record();
    if (record.trial === null) return;
    this.#write({ active: record.active, trial: null });
  }

  rollback(): void {
    const record = this.#record();
    if (record.trial === null) return;
    this.#write({ active: record.trial.previous, trial: null });
  }

  revert(): void {
    const { active, trial } = this.#record();
    if (trial !== null) throw new Error('slots: cannot revert while a version is on trial');
    const other = otherSlot(active);
    if (this.#content(other) === null) throw new Error(`slots: slot ${other} holds nothing to go back to`);
    this.#write({ active: other, trial: null });
  }

  #record(): BootRecord {
    return this.#boot.read() ?? { active: 'a', trial: null };
  }

  #write(record: BootRecord): void {
    this.#boot.write(record);
  }

  #content(slot: SlotName): SlotContent | null {
    return new FileRecord<SlotContent>(join(this.#dir, `slot-${slot}`, 'content.json')).read();
  }
}
