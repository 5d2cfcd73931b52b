// Runs the BootSlots contract on both implementations.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { MemoryBootSlots } from './memory-slots.js';
import { FileBootSlots, type FileSlotsOptions } from './slots.js';
import { bootSlotsContract } from './slots-contract.js';

const dirs: string[] = [];
/** The options each FileBootSlots was made with, so a restart opens the same directory. */
const made = new WeakMap<object, FileSlotsOptions>();
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

bootSlotsContract('FileBootSlots', {
  open(options = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'homeostat-slots-'));
    dirs.push(dir);
    const o = { dir, ...options };
    const slots = new FileBootSlots(o);
    made.set(slots, o);
    return slots;
  },
  reopen(slots) {
    const o = made.get(slots);
    if (o === undefined) throw new Error('reopen: not made by this fixture');
    const again = new FileBootSlots(o);
    made.set(again, o);
    return again;
  },
});

bootSlotsContract('MemoryBootSlots', {
  open: (options = {}) => new MemoryBootSlots(options),
  reopen: (slots) => slots,
});
