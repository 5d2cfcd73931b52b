// The raw side of `ingest`: the client harness (`ingest-load.ts`) against the bare broker
// (`raw-broker.ts`: aedes with none of the hub's work) in a child process, the rate the hub's
// figure is divided by. One more connection subscribes to all telemetry so that every message is
// forwarded, as the hub's broker would forward it to a subscriber; it only counts what it gets.

import { connect as tcpConnect } from 'node:net';
import { createHistogram } from 'node:perf_hooks';
import { type Cleanups, type Figures, MiB, progress, round, sleep, withDeadline } from './harness.js';
import {
  connectDevices,
  type Devices,
  type DriveHooks,
  type DriveResult,
  deviceNames,
  type LoadOptions,
  type Side,
  sumWindows,
} from './ingest-load.js';
import { START_DEADLINE_MS, startRawBroker } from './raw-broker-process.js';

/** Wait for the raw subscriber to receive the last forwarded messages, in ms. */
const FORWARD_GRACE_MS = 5000;

/** How the broker's process is started: node flags (a CPU profile), and the wait for it to exit. */
export interface BrokerStart {
  nodeFlags: readonly string[];
  stopGraceMs: number;
}

/**
 * Starts the raw broker, its subscriber and the publishers; `finish` (after the windows) puts the
 * `raw*` figures into `figures` and returns the PUBACK rate per second over the windows.
 */
export async function openRaw(
  load: LoadOptions,
  start: BrokerStart,
  cleanups: Cleanups,
): Promise<Side & { finish(figures: Figures): { ackedPerSec: number } }> {
  const broker = await startRawBroker(start.nodeFlags, start.stopGraceMs);
  cleanups.add('stop the raw broker', () => broker.stop(), broker.kill);
  progress(`raw broker: pid ${broker.pid}, ${broker.url}`);

  const subscriber = await countingSubscriber(broker.url, 'homeostat/v1/+/telemetry');
  cleanups.add('close the raw subscriber', async () => subscriber.close());
  const names = deviceNames(load.devices);
  const devices = await connectDevices(
    broker.url,
    names.map((name) => ({ name, password: 'raw' })),
    cleanups,
  );
  progress(`raw: ${devices.conns.length} publishers and 1 subscriber connected`);

  const latency = createHistogram();
  const windows: DriveResult[] = [];
  let ackedBefore = 0;
  const hooks: DriveHooks = {
    label: 'raw',
    brokerPid: broker.pid,
    latency,
    onWindowStart: () => subscriber.startWindow(),
    onWindowEnd: () => subscriber.endWindow(),
  };
  const settle = async () => {
    // Every acknowledged message should have reached the subscriber (QoS 0: nothing to resend).
    const acked = ackedBefore + (windows[windows.length - 1]?.ackedTotal ?? 0);
    ackedBefore = acked;
    const forwardWait = performance.now();
    while (subscriber.received < acked && performance.now() - forwardWait < FORWARD_GRACE_MS) await sleep(50);
  };
  const finish = (figures: Figures) => {
    const { seconds, ...run } = sumWindows(side, load);
    Object.assign(figures, {
      rawMsgsPerSec: round(run.ackedInWindow / seconds, 0),
      rawForwardedPerSec: round(subscriber.inWindow / seconds, 0),
      rawAckedTotal: run.ackedTotal,
      rawForwardedTotal: subscriber.received,
      rawNotForwarded: Math.max(0, run.ackedTotal - subscriber.received),
      rawP50AckMs: run.p50Ms,
      rawP99AckMs: run.p99Ms,
      rawMaxAckMs: run.maxMs,
      rawCpuPercent: round(run.brokerCpuPercent, 1),
      rawRssMiB: round(run.brokerRssEnd / MiB, 1),
      rawBenchCpuPercent: round(run.benchCpuPercent, 1),
      rawBenchLoopDelayP99Ms: run.benchLoopDelayP99Ms,
      rawOtherCpuPercent: round(run.otherCpuPercent, 1),
      rawPublishErrors: run.failed,
      rawDisconnects: run.disconnects,
    });
    progress(
      `raw: ${figures.rawMsgsPerSec} msgs/s acknowledged, ${figures.rawForwardedPerSec}/s forwarded, ` +
        `broker CPU ${figures.rawCpuPercent} %, ack p50 ${run.p50Ms} ms p99 ${run.p99Ms} ms`,
    );
    return { ackedPerSec: run.ackedInWindow / seconds };
  };
  const side: Side = { hooks, devices, windows, settle };
  return { ...side, finish };
}

interface CountingSubscriber {
  received: number;
  inWindow: number;
  startWindow(): void;
  endWindow(): void;
  close(): void;
}

/**
 * A subscriber that only counts the PUBLISH packets it receives: a bare MQTT 3.1.1 client on a
 * socket (CONNECT, SUBSCRIBE at QoS 0, then a packet-length parser), so that checking the
 * forwarding costs the load generator as little as possible.
 */
function countingSubscriber(url: string, filter: string): Promise<CountingSubscriber> {
  const { hostname, port } = new URL(url);
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
  };
  const packet = (first: number, body: Buffer) => {
    if (body.length > 127) throw new Error('subscriber: packet too long for this little client');
    return Buffer.concat([Buffer.from([first, body.length]), body]);
  };
  const connectPacket = packet(
    0x10,
    Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 0]), str(`bench-subscriber-${process.pid}`)]),
  );
  const subscribePacket = packet(0x82, Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([0])]));

  return withDeadline(
    new Promise<CountingSubscriber>((resolve, reject) => {
      const socket = tcpConnect({ host: hostname, port: Number(port), noDelay: true });
      let window = false;
      const sub: CountingSubscriber = {
        received: 0,
        inWindow: 0,
        startWindow: () => {
          window = true;
        },
        endWindow: () => {
          window = false;
        },
        close: () => socket.destroy(),
      };
      let pending: Buffer = Buffer.alloc(0);
      socket.on('error', reject);
      socket.on('connect', () => socket.write(Buffer.concat([connectPacket, subscribePacket])));
      socket.on('data', (chunk: Buffer) => {
        const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
        let off = 0;
        for (;;) {
          if (buf.length - off < 2) break;
          let len = 0;
          let mult = 1;
          let i = off + 1;
          let complete = false;
          while (i < buf.length && i < off + 5) {
            const b = buf[i++]!;
            len += (b & 127) * mult;
            mult *= 128;
            if ((b & 128) === 0) {
              complete = true;
              break;
            }
          }
          if (!complete || i + len > buf.length) break;
          const type = buf[off]! >> 4;
          if (type === 3) {
            sub.received++;
            if (window) sub.inWindow++;
          } else if (type === 9) {
            resolve(sub);
          } else if (type === 2 && buf[i + 1] !== 0) {
            reject(new Error(`subscriber: CONNACK return code ${buf[i + 1]}`));
          }
          off = i + len;
        }
        pending = off >= buf.length ? Buffer.alloc(0) : buf.subarray(off);
      });
    }),
    START_DEADLINE_MS,
    'subscribing to the raw broker',
  );
}
