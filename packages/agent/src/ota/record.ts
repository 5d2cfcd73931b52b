// One small piece of state that must survive a restart (the update journal, the remembered
// outcomes, the trust state, the boot record): the port, a file implementation for a device and
// an in-memory one for an agent without a data directory (the simulator's fleets).
//
// A file is replaced by writing a temp file, fsyncing it, then renaming it over the old one, so a
// power loss at any moment leaves either the old value or the new one, never half of one. A file
// that is there but does not parse is an error, not "nothing recorded": what it held may matter
// (the highest version installed, a version on trial), and guessing would be worse than stopping.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DurableRecord<T> {
  /** The value written last; null when none was, or it was cleared. Throws when the record is damaged. */
  read(): T | null;
  /** Replaces the value: after a crash, read() returns either this value or the one before. */
  write(value: T): void;
  clear(): void;
}

/** A JSON file, replaced atomically. */
export class FileRecord<T> implements DurableRecord<T> {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  read(): T | null {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(`${this.file} is damaged: ${(err as Error).message}`, { cause: err });
    }
  }

  write(value: T): void {
    mkdirSync(dirname(this.file), { recursive: true });
    writeDurably(this.file, value);
  }

  clear(): void {
    rmSync(this.file, { force: true });
  }
}

/**
 * Holds the value itself, not a copy: callers replace what they write rather than change it in
 * place (as they must with a file anyway, where a change in place is never saved).
 */
export class MemoryRecord<T> implements DurableRecord<T> {
  #value: T | null = null;

  read(): T | null {
    return this.#value;
  }

  write(value: T): void {
    this.#value = value;
  }

  clear(): void {
    this.#value = null;
  }
}

/** Temp file, fsync, rename: after a power loss the file is either the old one or the new one. */
function writeDurably(file: string, value: unknown): void {
  const temp = `${file}.tmp`;
  const fd = openSync(temp, 'w');
  try {
    writeFileSync(fd, `${JSON.stringify(value)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

/** Flushes a file written some other way (a copied artifact) to the disk. */
export function syncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
