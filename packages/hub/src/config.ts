// Hub configuration: defaults, environment (`HOMEOSTAT_*`) and flags, parsed at the boundary.

export interface HubConfig {
  /** Address the HTTP API and the MQTT listener bind to; loopback unless told otherwise. */
  listen: string;
  /** HTTP API port; 0 picks a free one. */
  httpPort: number;
  /** MQTT port of the embedded broker; 0 picks a free one. */
  mqttPort: number;
  /** Directory of hub.db; `null` keeps everything in memory (tests). */
  dataDir: string | null;
  /** Heartbeat interval assumed for devices that do not declare theirs, in ms. */
  heartbeatMs: number;
  /** Silence after which a device is suspect, in heartbeat intervals. */
  suspectAfterIntervals: number;
  /** Silence after which a device is offline, in heartbeat intervals (below 2: detection within 2). */
  offlineAfterIntervals: number;
  /** A device whose duties were handed over gets them back once online this many heartbeat intervals. */
  handBackAfterIntervals: number;
  /** Largest MQTT payload accepted, in bytes. */
  maxPayloadBytes: number;
  /** Largest HTTP body accepted, in bytes. */
  maxBodyBytes: number;
  /** Largest artifact file accepted, in bytes (uploads stream to disk, not to memory). */
  maxArtifactBytes: number;
  /** Readings further in the future than this are refused, in ms (device clocks drift). */
  maxClockSkewMs: number;
  /** How long telemetry is kept: raw readings, minute rollups, hour rollups, in ms. */
  retention: { rawMs: number; minuteMs: number; hourMs: number };
  /** Size the store may take, in bytes; the hub's own policies act as it fills (`store-budget-ratio`). */
  storeBudgetBytes: number;
  /** How often the hub samples itself for its own policies, in ms. */
  hubSampleMs: number;
  /** Whether the hub installs its default policies of scope hub at start (those missing). */
  hubPolicies: boolean;
  /** Initial admin token (`HOMEOSTAT_ADMIN_TOKEN`); used only when the hub has no token yet. */
  adminToken: string | null;
  logLevel: string;
}

const DAY_MS = 24 * 3600 * 1000;

export const DEFAULT_CONFIG: HubConfig = {
  listen: '127.0.0.1',
  httpPort: 8080,
  mqttPort: 1883,
  dataDir: '.homeostat/hub',
  heartbeatMs: 1000, // ms
  suspectAfterIntervals: 1.5,
  offlineAfterIntervals: 1.8,
  handBackAfterIntervals: 2, // heartbeat intervals
  maxPayloadBytes: 256 * 1024, // bytes
  maxBodyBytes: 1024 * 1024, // bytes
  maxArtifactBytes: 1024 * 1024 * 1024, // bytes: 1 GiB
  maxClockSkewMs: 24 * 3600 * 1000, // ms
  retention: {
    rawMs: 7 * DAY_MS, // raw readings: a week
    minuteMs: 30 * DAY_MS, // minute rollups: a month
    hourMs: 400 * DAY_MS, // hour rollups: over a year
  },
  storeBudgetBytes: 10 * 1024 ** 3, // bytes: 10 GiB
  hubSampleMs: 5000, // ms
  hubPolicies: true,
  adminToken: null,
  logLevel: 'info',
};

type Env = Record<string, string | undefined>;

/** Reads `HOMEOSTAT_*` variables over the defaults; throws with every problem listed. */
export function configFromEnv(env: Env, base: HubConfig = DEFAULT_CONFIG): HubConfig {
  const problems: string[] = [];
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return n;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'on' || raw === 'true' || raw === '1') return true;
    if (raw === 'off' || raw === 'false' || raw === '0') return false;
    problems.push(`${key}: must be on or off, got ${JSON.stringify(raw)}`);
    return fallback;
  };
  const config: HubConfig = {
    ...base,
    listen: env.HOMEOSTAT_LISTEN || base.listen,
    httpPort: int('HOMEOSTAT_HTTP_PORT', base.httpPort, 0, 65535),
    mqttPort: int('HOMEOSTAT_MQTT_PORT', base.mqttPort, 0, 65535),
    dataDir: env.HOMEOSTAT_DATA || base.dataDir,
    heartbeatMs: int('HOMEOSTAT_HEARTBEAT_MS', base.heartbeatMs, 100, 3_600_000),
    handBackAfterIntervals: int('HOMEOSTAT_HAND_BACK_AFTER_INTERVALS', base.handBackAfterIntervals, 1, 1000),
    maxPayloadBytes: int('HOMEOSTAT_MAX_PAYLOAD_BYTES', base.maxPayloadBytes, 1024, 256 * 1024 * 1024),
    maxArtifactBytes: int('HOMEOSTAT_MAX_ARTIFACT_BYTES', base.maxArtifactBytes, 1, Number.MAX_SAFE_INTEGER),
    retention: {
      rawMs: int('HOMEOSTAT_RETENTION_RAW_DAYS', base.retention.rawMs / DAY_MS, 1, 36_500) * DAY_MS,
      minuteMs: int('HOMEOSTAT_RETENTION_MINUTE_DAYS', base.retention.minuteMs / DAY_MS, 1, 36_500) * DAY_MS,
      hourMs: int('HOMEOSTAT_RETENTION_HOUR_DAYS', base.retention.hourMs / DAY_MS, 1, 36_500) * DAY_MS,
    },
    storeBudgetBytes: int('HOMEOSTAT_STORE_BUDGET_MB', base.storeBudgetBytes / 1024 ** 2, 1, 1024 ** 3) * 1024 ** 2,
    hubSampleMs: int('HOMEOSTAT_HUB_SAMPLE_MS', base.hubSampleMs, 100, 3_600_000),
    hubPolicies: flag('HOMEOSTAT_HUB_POLICIES', base.hubPolicies),
    adminToken: env.HOMEOSTAT_ADMIN_TOKEN || base.adminToken,
    logLevel: env.HOMEOSTAT_LOG_LEVEL || base.logLevel,
  };
  if (config.adminToken !== null && config.adminToken.length < 16) {
    problems.push('HOMEOSTAT_ADMIN_TOKEN: must be at least 16 characters');
  }
  if (problems.length > 0) throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return config;
}
