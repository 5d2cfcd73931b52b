// The embedded store's telemetry writes on the second core: a worker thread with its own
// connection to the same SQLite file runs the telemetry transaction (inserts, rollups, commit and
// the WAL checkpoints), so the hub's event loop keeps handling MQTT meanwhile. A write resolves
// only after the worker's commit, so a PUBACK still means stored. A batch crosses as one JSON
// text: posting one string costs the hub's thread far less than cloning an object per reading.
//
// This one file is both sides: `TelemetryWorker` on the hub's thread, and the worker's loop when
// loaded as a worker.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteTelemetryWriter, tuneSqlite } from './sqlite-writer.js';
import type { InsertOutcome, Reading } from './store.js';

interface WriteRequest {
  id: number;
  /** The readings, as a JSON array. */
  batch: string;
}

type WriteReply = ({ id: number } & InsertOutcome) | { id: number; error: string };
/** Sent once by the worker when its connection is open and its statements prepared. */
const READY = 'ready';

interface Pending {
  resolve: (outcome: InsertOutcome) => void;
  reject: (err: Error) => void;
}

export class TelemetryWorker {
  readonly #path: string;
  #worker: { worker: Worker; ready: Promise<void> } | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  constructor(path: string) {
    this.#path = path;
  }

  /**
   * Starts the worker and resolves once it is ready, so that its start-up (a thread, modules, a
   * connection: hundreds of ms on a busy machine) is paid when the hub starts, not by the first
   * reading; a worker that cannot open the database fails the start.
   */
  start(): Promise<void> {
    return this.#start().ready;
  }

  insertReadings(readings: readonly Reading[]): Promise<InsertOutcome> {
    const { worker } = this.#start();
    const request: WriteRequest = { id: this.#nextId++, batch: JSON.stringify(readings) };
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      // Held while starting and while a write is outstanding: an idle writer keeps no process alive.
      worker.ref();
      worker.postMessage(request);
    });
  }

  /** Lets the worker finish what it was given, then closes its connection. */
  async close(): Promise<void> {
    const worker = this.#worker?.worker;
    this.#worker = undefined;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage(null);
    await exited;
  }

  /** The worker, started on first use and again after it died (a write then fails, not the hub). */
  #start(): { worker: Worker; ready: Promise<void> } {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL(import.meta.url), { workerData: { telemetryWriterPath: this.#path } });
    let ready: { resolve: () => void; reject: (err: Error) => void } | undefined;
    const started = {
      worker,
      ready: new Promise<void>((resolve, reject) => {
        ready = { resolve, reject };
      }),
    };
    // A worker started again by a write reports its failure to that write; nobody awaits `ready`.
    started.ready.catch(() => {});
    worker.on('message', (reply: WriteReply | typeof READY) => {
      if (reply !== READY) this.#settle(reply);
      else {
        ready?.resolve();
        if (this.#pending.size === 0) worker.unref();
      }
    });
    const fail = (err: Error) => {
      if (this.#worker === started) this.#worker = undefined;
      ready?.reject(err);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the telemetry writer stopped (exit code ${code})`)));
    this.#worker = started;
    return started;
  }

  #settle(reply: WriteReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.worker.unref();
    if ('error' in reply) pending.reject(new Error(reply.error));
    else pending.resolve({ inserted: reply.inserted, existing: reply.existing });
  }
}

/** The worker's side: one connection, one transaction per request, in order. */
function serve(path: string): void {
  const port = parentPort;
  if (!port) return;
  const db = new BetterSqlite3(path);
  tuneSqlite(db);
  const writer = new SqliteTelemetryWriter(db);
  port.postMessage(READY);
  port.on('message', (request: WriteRequest | null) => {
    if (request === null) {
      db.close();
      port.close();
      return;
    }
    let reply: WriteReply;
    try {
      reply = { id: request.id, ...writer.insertReadings(JSON.parse(request.batch) as Reading[]) };
    } catch (err) {
      reply = { id: request.id, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
}

const path = (workerData as { telemetryWriterPath?: string } | null)?.telemetryWriterPath;
if (!isMainThread && path !== undefined) serve(path);
