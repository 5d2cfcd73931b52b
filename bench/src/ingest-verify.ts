// What the hub stored, checked through its API (GET /api/v1/devices/{name}/telemetry) against the
// state the client harness (`ingest-load.ts`) kept of every message: how long after the window
// its last acknowledged readings became queryable, and a read-back of everything, counting the
// readings lost, stored twice, stored in part, never sent, or stored without a PUBACK.

import { forEachLimited, progress, sleep, withDeadline } from './harness.js';
import { ACKED_LATE, ACKED_WARMUP, ACKED_WINDOW, type Conn, METRIC_NAMES } from './ingest-load.js';

/** Deadline for the window's last acknowledged readings to be queryable, in ms. */
const QUERYABLE_DEADLINE_MS = 60_000;
/** Deadline for reading back everything stored, in ms. */
const VERIFY_DEADLINE_MS = 300_000;
/** Wait before checking again when acknowledged readings are missing from the store, in ms. */
const LATE_STORE_GRACE_MS = 5000;
const QUERY_LIMIT = 10_000;
const QUERY_CONCURRENCY = 8;

export interface QueryableLag {
  /** From the end of the window until the last reading acknowledged in it was queryable, in ms; 0 when at once. */
  lagMs: number;
  /** Duration of the first check, in ms. */
  firstPassMs: number;
}

/**
 * From the end of the window, asks the hub for each device's last reading acknowledged in the
 * window until all are there. A hub that stores before acknowledging passes the first check (lag
 * 0); one that acknowledges first and stores later is charged the time until they are all
 * queryable (measured to the start of the check that found them, so to within one check).
 */
export async function waitQueryable(httpUrl: string, token: string, conns: readonly Conn[], since: number) {
  let remaining = conns
    .map((c) => {
      let seq = c.next - 1;
      while (seq >= 0 && c.state[seq] !== ACKED_WINDOW) seq--;
      return { c, seq };
    })
    .filter((t) => t.seq >= 0);
  let firstPassMs = 0;
  let lagMs = 0;
  for (let pass = 0; remaining.length > 0; pass++) {
    const passStarted = performance.now();
    if (passStarted - since > QUERYABLE_DEADLINE_MS) {
      throw new Error(
        `${remaining.length} devices' last acknowledged readings not queryable after ${QUERYABLE_DEADLINE_MS / 1000} s`,
      );
    }
    const missing: typeof remaining = [];
    await forEachLimited(remaining, QUERY_CONCURRENCY, async (t) => {
      const ts = t.c.ts[t.seq]!;
      const page = await queryReadings(httpUrl, token, t.c.name, METRIC_NAMES[0]!, ts, ts);
      if (!page.points.some((p) => p.seq === t.seq)) missing.push(t);
    });
    if (pass === 0) firstPassMs = performance.now() - passStarted;
    if (missing.length === 0) {
      lagMs = pass === 0 ? 0 : passStarted - since;
      break;
    }
    remaining = missing;
    await sleep(100);
  }
  return { lagMs, firstPassMs };
}

export interface Verified {
  stored: number;
  storedInWindow: number;
  lost: number;
  duplicates: number;
  partial: number;
  unexpected: number;
  storedNotAcked: number;
  queries: number;
}

export interface ReadBack extends Verified {
  /** Acknowledged readings missing at the first read-back and there at the second. */
  storedLate: number;
}

/**
 * Reads everything back once the load has stopped; when acknowledged readings are missing, waits
 * and reads again, so a hub that stores after acknowledging is told from one that loses readings.
 */
export async function readBack(
  httpUrl: string,
  token: string,
  conns: readonly Conn[],
  metrics: number,
): Promise<ReadBack> {
  let v = await withDeadline(
    verifyStored(httpUrl, token, conns, metrics),
    VERIFY_DEADLINE_MS,
    'reading the telemetry back',
  );
  let storedLate = 0;
  if (v.lost > 0) {
    progress(`${v.lost} acknowledged readings not stored yet; checking again in ${LATE_STORE_GRACE_MS / 1000} s`);
    await sleep(LATE_STORE_GRACE_MS);
    const again = await withDeadline(
      verifyStored(httpUrl, token, conns, metrics),
      VERIFY_DEADLINE_MS,
      'reading the telemetry back again',
    );
    storedLate = v.lost - again.lost;
    v = again;
  }
  return { ...v, storedLate };
}

/** Reads back every metric of every device and checks it against what was acknowledged. */
async function verifyStored(httpUrl: string, token: string, conns: readonly Conn[], metrics: number) {
  const v: Verified = {
    stored: 0,
    storedInWindow: 0,
    lost: 0,
    duplicates: 0,
    partial: 0,
    unexpected: 0,
    storedNotAcked: 0,
    queries: 0,
  };
  const to = Date.now() + 1000;
  await forEachLimited(conns, QUERY_CONCURRENCY, async (c) => {
    const have = new Uint8Array(c.next);
    for (const metric of METRIC_NAMES.slice(0, metrics)) {
      const seen = new Uint8Array(c.next);
      const { seqs, queries } = await storedSeqs(httpUrl, token, c.name, metric, 0, to);
      v.queries += queries;
      for (const seq of seqs) {
        if (!Number.isInteger(seq) || seq < 0 || seq >= c.next || c.state[seq] === undefined) v.unexpected++;
        else if (seen[seq]) v.duplicates++;
        else {
          seen[seq] = 1;
          have[seq] = have[seq]! + 1;
        }
      }
    }
    for (let seq = 0; seq < c.next; seq++) {
      const state = c.state[seq]!;
      const full = have[seq] === metrics;
      if (!full && have[seq]! > 0) v.partial++;
      const acked = state === ACKED_WARMUP || state === ACKED_WINDOW || state === ACKED_LATE;
      if (acked && !full) v.lost++;
      if (!full) continue;
      v.stored++;
      if (state === ACKED_WINDOW) v.storedInWindow++;
      if (!acked) v.storedNotAcked++;
    }
  });
  return v;
}

interface Point {
  ts: number;
  seq: number;
}

async function queryReadings(
  httpUrl: string,
  token: string,
  device: string,
  metric: string,
  from: number,
  to: number,
): Promise<{ points: Point[]; truncated: boolean }> {
  const q = new URLSearchParams({ metric, from: String(from), to: String(to), limit: String(QUERY_LIMIT) });
  const url = `${httpUrl}/api/v1/devices/${encodeURIComponent(device)}/telemetry?${q}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text}`);
  const body = JSON.parse(text) as { points?: Point[]; truncated?: boolean };
  if (!Array.isArray(body.points) || typeof body.truncated !== 'boolean') throw new Error(`GET ${url}: ${text}`);
  return { points: body.points, truncated: body.truncated };
}

/**
 * Every stored point of one metric in [from, to], each exactly once (so a seq seen twice is a
 * duplicate in the store). A query answers the newest `limit` points and says when there are
 * more: then the points after the oldest timestamp of the page are kept, that one millisecond is
 * read on its own, and the next page ends just before it.
 */
async function storedSeqs(httpUrl: string, token: string, device: string, metric: string, from: number, to: number) {
  const seqs: number[] = [];
  let queries = 0;
  let hi = to;
  for (;;) {
    const page = await queryReadings(httpUrl, token, device, metric, from, hi);
    queries++;
    if (!page.truncated) {
      for (const p of page.points) seqs.push(p.seq);
      break;
    }
    const oldest = Math.min(...page.points.map((p) => p.ts));
    for (const p of page.points) if (p.ts > oldest) seqs.push(p.seq);
    const tie = await queryReadings(httpUrl, token, device, metric, oldest, oldest);
    queries++;
    if (tie.truncated) throw new Error(`${device}: more than ${QUERY_LIMIT} ${metric} points at ts ${oldest}`);
    for (const p of tie.points) seqs.push(p.seq);
    if (oldest <= from) break;
    hi = oldest - 1;
  }
  return { seqs, queries };
}
