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

interface Pending {
  resolve: (outcome: InsertOutcome) => void;
  reject: (err: Error) => void;
}

export class TelemetryWorker {
  readonly #path: string;
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  constructor(path: string) {
    this.#path = path;
  }

  insertReadings(readings: readonly Reading[]): Promise<InsertOutcome> {
    const worker = this.#start();
    const request: WriteRequest = { id: this.#nextId++, batch: JSON.stringify(readings) };
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      // Held only while a write is outstanding: an idle writer keeps no process alive.
      worker.ref();
      worker.postMessage(request);
    });
  }

  /** Lets the worker finish what it was given, then closes its connection. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage(null);
    await exited;
  }

  /** The worker, started on first use and again after it died (a write then fails, not the hub). */
  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL(import.meta.url), { workerData: { telemetryWriterPath: this.#path } });
    worker.unref();
    worker.on('message', (reply: WriteReply) => this.#settle(reply));
    const fail = (err: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the telemetry writer stopped (exit code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #settle(reply: WriteReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.unref();
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
