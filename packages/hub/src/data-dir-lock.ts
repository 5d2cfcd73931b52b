// One hub per data directory. Two hubs on one store would each move the other's staged telemetry
// (and store it twice), run every controller twice and fight over the retained MQTT state. The
// lock is a file naming the process that holds it; one whose process is gone (a hub killed with
// SIGKILL) is taken over.

import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'hub.lock';

export class DataDirLock {
  readonly #path: string;

  private constructor(path: string) {
    this.#path = path;
  }

  /** Takes the directory's lock, or throws naming the live process that holds it. */
  static acquire(dataDir: string, pid = process.pid): DataDirLock {
    const path = join(dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        try {
          writeSync(fd, `${pid}\n`);
        } finally {
          closeSync(fd);
        }
        return new DataDirLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      // Held by this very process (a hub started again in it without stopping), or by one alive.
      if (Number.isInteger(holder) && holder !== pid && alive(holder)) {
        throw new Error(
          `another hub (pid ${holder}) uses the data directory ${dataDir}; stop it first ` +
            `(if no hub runs there, delete ${path})`,
        );
      }
      rmSync(path, { force: true });
    }
    throw new Error(`could not take the lock ${path}`);
  }

  release(): void {
    rmSync(this.#path, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, and belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
