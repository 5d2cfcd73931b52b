// The hub side of `ingest`: the real hub in a child process (through its CLI), the devices
// created through its API for their tokens, the client harness (`ingest-load.ts`) against its
// MQTT port, then what it stored read back (`ingest-verify.ts`). Its /metrics, scraped at both
// ends of each window, say where the time goes; they are for information, not the figure.

import { createHistogram } from 'node:perf_hooks';
import { type Cleanups, type Figures, MiB, progress, round } from './harness.js';
import { provisionDevices, type Samples, sample, scrapeMetrics } from './hub-api.js';
import { type HubProcessOptions, startHubProcess } from './hub-process.js';
import {
  closeDevices,
  connectDevices,
  type DriveHooks,
  type DriveResult,
  deviceNames,
  type LoadOptions,
  type Side,
  sumWindows,
} from './ingest-load.js';
import { type QueryableLag, readBack, waitQueryable } from './ingest-verify.js';

const PROVISION_CONCURRENCY = 32;
const WRITE_SUM = 'homeostat_telemetry_write_seconds_sum';
const WRITE_COUNT = 'homeostat_telemetry_write_seconds_count';
const BATCH_SUM = 'homeostat_telemetry_batch_values_sum';
const BATCH_COUNT = 'homeostat_telemetry_batch_values_count';
const VALUES_STORED = 'homeostat_telemetry_readings_stored_total';

/**
 * Starts the hub, creates the devices and connects them; `finish` (after the windows) closes the
 * load, reads everything back, puts the hub's figures into `figures` and returns its PUBACK rate
 * and its rate of readings stored and queryable, per second over the windows.
 */
export async function openHub(
  load: LoadOptions,
  hubOptions: HubProcessOptions,
  cleanups: Cleanups,
): Promise<Side & { finish(figures: Figures): Promise<{ ackedPerSec: number; storedPerSec: number }> }> {
  const hub = await startHubProcess(hubOptions);
  cleanups.add('stop the hub', () => hub.stop(), hub.kill);
  progress(`hub: pid ${hub.pid}, ${hub.httpUrl}, ${hub.mqttUrl}`);
  const names = deviceNames(load.devices);
  const tokens = await provisionDevices(
    hub.httpUrl,
    hub.adminToken,
    names.map((name) => ({ name, labels: {} })),
    PROVISION_CONCURRENCY,
  );
  const devices = await connectDevices(
    hub.mqttUrl,
    names.map((name) => ({ name, password: tokens.get(name)! })),
    cleanups,
  );
  progress(`hub: ${devices.conns.length} devices provisioned and connected`);

  // The hub's /metrics, summed over the windows.
  const written = new Map<string, number>();
  let before: Promise<Samples> | undefined;
  let after: Promise<void> | undefined;
  const addDelta = async (start: Promise<Samples>, end: Samples) => {
    const b = await start;
    if (b.size === 0) return;
    for (const key of [WRITE_SUM, WRITE_COUNT, BATCH_SUM, BATCH_COUNT, VALUES_STORED]) {
      written.set(key, (written.get(key) ?? 0) + sample(end, key) - sample(b, key));
    }
  };
  let queryable: Promise<QueryableLag> | undefined;
  let lagMs = 0;
  let firstPassMs = 0;
  const latency = createHistogram();
  const windows: DriveResult[] = [];
  const hooks: DriveHooks = {
    label: 'hub',
    brokerPid: hub.pid,
    latency,
    onWindowStart: () => {
      before = scrapeMetrics(hub.httpUrl);
      // Caught here; awaited when the window ends.
      before.catch(() => {});
    },
    onWindowEnd: () => {
      const start = before;
      after = start && scrapeMetrics(hub.httpUrl).then((end) => addDelta(start, end));
      queryable = waitQueryable(hub.httpUrl, hub.adminToken, devices.conns, performance.now());
      after?.catch(() => {});
      queryable.catch(() => {});
    },
  };
  const settle = async () => {
    await after;
    const lag = await queryable;
    lagMs += lag?.lagMs ?? 0;
    firstPassMs = Math.max(firstPassMs, lag?.firstPassMs ?? 0);
  };
  const finish = async (figures: Figures) => {
    const { seconds, ...run } = sumWindows(side, load);
    Object.assign(figures, {
      hubAckedPerSec: round(run.ackedInWindow / seconds, 0),
      hubAckedTotal: run.ackedTotal,
      p50AckMs: run.p50Ms,
      p99AckMs: run.p99Ms,
      maxAckMs: run.maxMs,
      hubCpuPercent: round(run.brokerCpuPercent, 1),
      hubRssMiB: round(run.brokerRssEnd / MiB, 1),
      hubBenchCpuPercent: round(run.benchCpuPercent, 1),
      hubBenchLoopDelayP99Ms: run.benchLoopDelayP99Ms,
      hubOtherCpuPercent: round(run.otherCpuPercent, 1),
      publishErrors: run.failed,
      disconnects: run.disconnects,
      refused: devices.refused,
      queryableLagMs: round(lagMs, 0),
      queryableFirstCheckMs: round(firstPassMs, 0),
    });
    // The hub's own account of its writes, for where the time goes (absent metrics read as null).
    const d = (key: string) => written.get(key) ?? 0;
    figures.hubWritesPerSec = written.size > 0 ? round(d(WRITE_COUNT) / seconds, 0) : null;
    figures.hubWriteMsMean = d(WRITE_COUNT) > 0 ? round((1000 * d(WRITE_SUM)) / d(WRITE_COUNT), 3) : null;
    figures.hubValuesPerWrite = d(BATCH_COUNT) > 0 ? round(d(BATCH_SUM) / d(BATCH_COUNT), 1) : null;
    figures.hubValuesStoredPerSec = written.size > 0 ? round(d(VALUES_STORED) / seconds, 0) : null;
    if (devices.firstRefusal !== undefined) {
      progress(`hub refused messages; the first notice: ${devices.firstRefusal}`);
    }

    // Close the load before reading everything back.
    await closeDevices(devices.conns);
    const verifyStarted = performance.now();
    const v = await readBack(hub.httpUrl, hub.adminToken, devices.conns, load.metrics);
    const windowsAndLag = seconds + lagMs / 1000;
    Object.assign(figures, {
      hubStoredPerSec: round(v.storedInWindow / windowsAndLag, 0),
      hubStoredInWindow: v.storedInWindow,
      hubStoredTotal: v.stored,
      lost: v.lost,
      storedLate: v.storedLate,
      duplicates: v.duplicates,
      partial: v.partial,
      unexpected: v.unexpected,
      storedNotAcked: v.storedNotAcked,
      verifySeconds: round((performance.now() - verifyStarted) / 1000, 1),
      verifyQueries: v.queries,
    });
    progress(
      `hub: ${figures.hubAckedPerSec} msgs/s acknowledged, ${figures.hubStoredPerSec} readings/s stored and queryable ` +
        `(lag ${figures.queryableLagMs} ms), CPU ${figures.hubCpuPercent} %, ack p50 ${run.p50Ms} ms p99 ${run.p99Ms} ms; ` +
        `lost ${v.lost}, duplicates ${v.duplicates}`,
    );
    return { ackedPerSec: run.ackedInWindow / seconds, storedPerSec: v.storedInWindow / windowsAndLag };
  };
  const side: Side = { hooks, devices, windows, settle };
  return { ...side, finish };
}
