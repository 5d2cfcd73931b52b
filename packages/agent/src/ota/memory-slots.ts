// BootSlots in memory: the same contract as FileBootSlots (slots-contract.ts runs on both), for
// agents without a data directory (the simulator's large fleets, benchmarks). Nothing survives the
// process, as with a simulated device whose flash is its process memory.

import { readFileSync } from 'node:fs';
import { AgentError } from '../errors.js';
import {
  type BootOutcome,
  type BootSlots,
  type BootState,
  otherSlot,
  type SlotContent,
  type SlotName,
  type Trial,
} from './slots.js';

export interface MemorySlotsOptions {
  /** Capacity of one slot, bytes. Default unlimited. */
  slotBytes?: number;
}

export class MemoryBootSlots implements BootSlots {
  readonly #slotBytes: number;
  #active: SlotName = 'a';
  #trial: Trial | null = null;
  readonly #slots: Record<SlotName, { content: SlotContent; bytes: Buffer } | null> = { a: null, b: null };

  constructor(options: MemorySlotsOptions = {}) {
    this.#slotBytes = options.slotBytes ?? Number.POSITIVE_INFINITY;
  }

  read(): BootState {
    return {
      active: this.#active,
      trial: this.#trial === null ? null : { ...this.#trial },
      slots: { a: this.#slots.a?.content ?? null, b: this.#slots.b?.content ?? null },
    };
  }

  artifact(slot: SlotName): Buffer | null {
    return this.#slots[slot]?.bytes ?? null;
  }

  stage(file: string, content: SlotContent): void {
    if (this.#trial !== null) throw new Error('slots: cannot stage while a version is on trial');
    const slot = otherSlot(this.#active);
    this.#slots[slot] = null;
    const bytes = readFileSync(file);
    if (bytes.length > this.#slotBytes) {
      throw new AgentError(
        'ERR_UPDATE_DISK_FULL',
        `${content.name} ${content.version}: ${bytes.length} bytes, the slot holds ${this.#slotBytes}`,
      );
    }
    this.#slots[slot] = { content: { ...content }, bytes };
  }

  switchToStaged(now: number): Trial {
    if (this.#trial !== null) throw new Error('slots: a version is on trial already');
    const next = otherSlot(this.#active);
    if (this.#slots[next] === null) throw new Error(`slots: slot ${next} holds nothing to switch to`);
    this.#trial = { previous: this.#active, since: now, boots: 0 };
    this.#active = next;
    return { ...this.#trial };
  }

  boot(): BootOutcome {
    const trial = this.#trial;
    if (trial === null) return { kind: 'normal' };
    if (trial.boots >= 1) {
      const from = this.#slots[this.#active]?.content ?? null;
      this.#active = trial.previous;
      this.#trial = null;
      return { kind: 'rolled-back', from };
    }
    this.#trial = { ...trial, boots: trial.boots + 1 };
    return { kind: 'trial', trial: { ...this.#trial } };
  }

  commit(): void {
    this.#trial = null;
  }

  rollback(): void {
    if (this.#trial === null) return;
    this.#active = this.#trial.previous;
    this.#trial = null;
  }

  revert(): void {
    if (this.#trial !== null) throw new Error('slots: cannot revert while a version is on trial');
    const other = otherSlot(this.#active);
    if (this.#slots[other] === null) throw new Error(`slots: slot ${other} holds nothing to go back to`);
    this.#active = other;
  }
}
