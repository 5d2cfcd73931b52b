// The little of the hub's HTTP API a benchmark needs: create devices, read JSON resources, and
// read /metrics.

import { forEachLimited } from './harness.js';

export interface NewDevice {
  name: string;
  labels: Record<string, string>;
  /** The initial desired state; none by default. */
  desired?: Record<string, unknown>;
}

/** Creates `devices` through POST /api/v1/devices; returns each device's token by name. */
export async function provisionDevices(
  httpUrl: string,
  adminToken: string,
  devices: readonly NewDevice[],
  concurrency: number,
  onProgress?: (done: number) => void,
): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  await forEachLimited(devices, concurrency, async (device) => {
    const res = await fetch(`${httpUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: device.name, labels: device.labels, desired: device.desired }),
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`POST /api/v1/devices ${device.name}: ${res.status} ${text}`);
    const body = JSON.parse(text) as { token?: unknown };
    if (typeof body.token !== 'string') throw new Error(`POST /api/v1/devices ${device.name}: no token in ${text}`);
    tokens.set(device.name, body.token);
    onProgress?.(tokens.size);
  });
  return tokens;
}

/** GET `path` of the API (e.g. `/api/v1/events?type=alarm`) as JSON; any status but 200 throws. */
export async function getJson(httpUrl: string, token: string, path: string): Promise<unknown> {
  const res = await fetch(`${httpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}

/** Prometheus samples by `name{labels}` as the hub prints them, e.g. `x_total{state="offline"}`. */
export type Samples = Map<string, number>;

export async function scrapeMetrics(httpUrl: string): Promise<Samples> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  return parseMetrics(await res.text());
}

/** Parses the Prometheus text format (no timestamps, as prom-client writes it). */
export function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (space > 0 && !Number.isNaN(value)) samples.set(line.slice(0, space), value);
  }
  return samples;
}

/** A sample's value; 0 when absent (a labelled counter appears only once incremented). */
export function sample(samples: Samples, key: string): number {
  return samples.get(key) ?? 0;
}
