// Devices: identity, credentials, labels, twins and telemetry queries. HTTP routes call these;
// the MQTT side tells connected devices what changed.

import { type Clock, hashToken, newToken, newUid, TypedEvents } from '@homeostat/kit';
import {
  applyMergePatch,
  type CreateDeviceRequest,
  type Device,
  type DeviceModuleList,
  deviceModules,
  type FleetTelemetry,
  type FleetTelemetryQuery,
  HomeostatError,
  isPlainObject,
  jsonEqual,
  matchesSelector,
  type PutDeviceRequest,
  parseSelector,
  type TelemetryBuckets,
  type TelemetryQuery,
  type TelemetrySeries,
} from '@homeostat/protocol';
import type { LivenessTracker } from '../controllers/liveness.js';
import type { EventLog } from '../events.js';
import { deviceView } from '../model/device-view.js';
import { type DeviceRecord, rollupFor, type Store } from '../store/store.js';

/** What the device service needs from the MQTT side. */
export interface DeviceChannel {
  isConnected(deviceId: string): boolean;
  publishDesired(deviceId: string, desired: { version: number; state: Record<string, unknown> }): Promise<void>;
  disconnect(deviceId: string, forget: boolean): Promise<void>;
}

export interface DeviceServiceDeps {
  store: Store;
  clock: Clock;
  liveness: LivenessTracker;
  channel: DeviceChannel;
  events: EventLog;
}

/**
 * Keys of the desired state that the hub's controllers own: `modules` is the deployment
 * controller's. Replacing the whole desired state (apply) keeps them, so an apply never takes a
 * device's modules away only for the controller to put them back under a new version.
 */
const CONTROLLER_KEYS = ['modules'] as const;

/** What happened to a device that a controller may care about: it was created (also by a claim) or relabelled. */
export interface DeviceEvents extends Record<string, unknown> {
  changed: { name: string };
}

/** Default window of a telemetry query, in ms. */
const DEFAULT_WINDOW_MS = 3600_000;
/** Buckets a fleet query answers with when it names neither a step nor a number of points. */
const DEFAULT_FLEET_POINTS = 300;
/** The smallest step, in ms. */
const MIN_STEP_MS = 1000;

/** The step of a downsampled query: the one given, else the window cut into `maxPoints`. */
function stepFor(from: number, to: number, q: { step?: number | undefined; maxPoints?: number | undefined }): number {
  if (q.step !== undefined) return q.step;
  return Math.max(MIN_STEP_MS, Math.ceil((to - from + 1) / (q.maxPoints ?? 1)));
}

function sourceFor(step: number): TelemetryBuckets['source'] {
  const resolution = rollupFor(step);
  return resolution === undefined ? 'raw' : resolution === 60_000 ? '1m' : '1h';
}

export class DeviceService {
  readonly #deps: DeviceServiceDeps;
  readonly events = new TypedEvents<DeviceEvents>();

  constructor(deps: DeviceServiceDeps) {
    this.#deps = deps;
  }

  view(record: DeviceRecord): Device {
    return deviceView(record, this.#deps.liveness.get(record.name), this.#deps.channel.isConnected(record.name));
  }

  async list(selector?: string): Promise<Device[]> {
    let terms: ReturnType<typeof parseSelector> = { terms: [] };
    if (selector) {
      terms = parseSelector(selector);
      if ('errors' in terms) throw new HomeostatError('ERR_VALIDATION', 'invalid label selector', terms.errors);
    }
    const all = await this.#deps.store.listDevices();
    const selected = 'terms' in terms ? all.filter((d) => matchesSelector(d.labels, terms.terms)) : all;
    return selected.map((d) => this.view(d));
  }

  async get(name: string): Promise<Device> {
    return this.view(await this.#record(name));
  }

  /** Creates a device; its token is returned this once and only its hash is kept. */
  async create(req: CreateDeviceRequest): Promise<{ device: Device; token: string }> {
    const token = newToken('hsd_');
    const created = await this.#deps.store.createDevice({
      name: req.name,
      uid: newUid(),
      labels: req.labels ?? {},
      tokenHash: hashToken(token),
      enrollmentGroup: null,
      desired: req.desired ?? {},
      createdAt: this.#deps.clock.now(),
    });
    if (!created) throw new HomeostatError('ERR_DEVICE_EXISTS', `a device named ${req.name} exists already`);
    this.#deps.events.record({
      device: req.name,
      type: 'lifecycle',
      code: null,
      severity: 'info',
      message: `device ${req.name} created`,
      data: {},
    });
    this.events.emit('changed', { name: req.name });
    return { device: await this.get(req.name), token };
  }

  /**
   * Create or update; what `homeostat apply` does. On an existing device the labels are replaced,
   * and a given `desired` becomes the whole desired state (a new version, sent to the device)
   * when it differs from the current one.
   */
  async put(
    name: string,
    req: PutDeviceRequest,
  ): Promise<{ created: true; device: Device; token: string } | { created: false; device: Device }> {
    const existing = await this.#deps.store.getDevice(name);
    if (!existing) {
      return { created: true, ...(await this.create({ name, ...req })) };
    }
    let record: DeviceRecord | undefined = existing;
    if (req.labels && !jsonEqual(req.labels, existing.labels)) {
      record = await this.#deps.store.updateDeviceLabels(name, req.labels);
      this.events.emit('changed', { name });
    }
    const wanted = req.desired && record ? withControllerKeys(req.desired, record.desired.state) : undefined;
    if (record && wanted !== undefined && !jsonEqual(wanted, record.desired.state)) {
      record = await this.#writeDesired(name, record.desired.version, wanted);
    }
    if (!record) throw new HomeostatError('ERR_DEVICE_NOT_FOUND', `no device named ${name}`);
    return { created: false, device: this.view(record) };
  }

  async delete(name: string): Promise<void> {
    if (!(await this.#deps.store.deleteDevice(name))) {
      throw new HomeostatError('ERR_DEVICE_NOT_FOUND', `no device named ${name}`);
    }
    // Disconnect first: the closing connection's will and disconnect are then ignored, and
    // cannot bring the deleted device back into the liveness table.
    await this.#deps.channel.disconnect(name, true);
    this.#deps.liveness.forget(name);
    // Whoever keeps devices between reads (the rollouts) reads it again, and finds it gone.
    this.events.emit('changed', { name });
    this.#deps.events.record({
      device: name,
      type: 'lifecycle',
      code: null,
      severity: 'info',
      message: `device ${name} deleted`,
      data: {},
    });
  }

  /** Issues a new token; the old one stops working and its connection is closed. */
  async rotateToken(name: string): Promise<{ device: Device; token: string }> {
    const token = newToken('hsd_');
    if (!(await this.#deps.store.setDeviceTokenHash(name, hashToken(token)))) {
      throw new HomeostatError('ERR_DEVICE_NOT_FOUND', `no device named ${name}`);
    }
    await this.#deps.channel.disconnect(name, false);
    this.#deps.events.record({
      device: name,
      type: 'security',
      code: null,
      severity: 'info',
      message: `token of ${name} rotated`,
      data: {},
    });
    return { device: await this.get(name), token };
  }

  /** Applies a merge patch to the desired state if it is still at `version`, then tells the device. */
  async patchDesired(name: string, version: number, patch: Record<string, unknown>): Promise<Device> {
    const current = await this.#record(name);
    if (current.desired.version !== version) throw conflict(name, version, current.desired.version);
    const next = applyMergePatch(current.desired.state, patch);
    return this.view(await this.#writeDesired(name, version, isPlainObject(next) ? next : {}));
  }

  /**
   * Sets one key of the desired state (undefined removes it) if the state is still at `version`;
   * the deployment controller writes `modules` this way. The version grows and the device is told.
   */
  async setDesiredKey(name: string, version: number, key: string, value: unknown): Promise<void> {
    const current = await this.#record(name);
    const { [key]: _old, ...rest } = current.desired.state;
    await this.#writeDesired(name, version, value === undefined ? rest : { ...rest, [key]: value });
  }

  /** The modules of one device: desired and reported, side by side. */
  async modules(name: string): Promise<DeviceModuleList> {
    const r = await this.#record(name);
    return { device: name, items: deviceModules(r.desired.state, r.reported.state) };
  }

  /** Stores a new desired state if it is still at `version`, then publishes it to the device. */
  async #writeDesired(name: string, version: number, state: Record<string, unknown>): Promise<DeviceRecord> {
    const r = await this.#deps.store.replaceDesired(name, version, state, this.#deps.clock.now());
    if (!r.ok) {
      if (r.reason === 'not-found') throw new HomeostatError('ERR_DEVICE_NOT_FOUND', `no device named ${name}`);
      throw conflict(name, version, r.current);
    }
    await this.#deps.channel.publishDesired(name, { version: r.device.desired.version, state: r.device.desired.state });
    return r.device;
  }

  async telemetry(name: string, q: TelemetryQuery): Promise<TelemetrySeries | TelemetryBuckets> {
    await this.#record(name);
    const { from, to } = this.#window(q);
    if (q.step !== undefined || q.maxPoints !== undefined) {
      const step = stepFor(from, to, q);
      const buckets = await this.#deps.store.queryBuckets([name], q.metric, from, to, step);
      return { device: name, metric: q.metric, from, to, step, source: sourceFor(step), buckets };
    }
    const limit = q.limit ?? 1000;
    const rows = await this.#deps.store.queryReadings(name, q.metric, from, to, limit + 1);
    const truncated = rows.length > limit;
    const points = (truncated ? rows.slice(1) : rows).map((r) => ({ ts: r.ts, seq: r.seq, value: r.value }));
    return { device: name, metric: q.metric, from, to, points, truncated };
  }

  /** One metric across the devices a selector matches, downsampled and aggregated per bucket. */
  async fleetTelemetry(q: FleetTelemetryQuery): Promise<FleetTelemetry> {
    const { from, to } = this.#window(q);
    const step = stepFor(from, to, { ...q, maxPoints: q.maxPoints ?? DEFAULT_FLEET_POINTS });
    const devices = (await this.list(q.selector)).map((d) => d.metadata.name);
    const agg = q.agg ?? 'avg';
    const buckets = await this.#deps.store.queryBuckets(devices, q.metric, from, to, step);
    return {
      metric: q.metric,
      selector: q.selector ?? '',
      agg,
      devices: devices.length,
      from,
      to,
      step,
      source: sourceFor(step),
      points: buckets.map((b) => ({ ts: b.ts, value: b[agg], count: b.count })),
    };
  }

  #window(q: { from?: number | undefined; to?: number | undefined }): { from: number; to: number } {
    const to = q.to ?? this.#deps.clock.now();
    const from = q.from ?? to - DEFAULT_WINDOW_MS;
    if (from > to) throw new HomeostatError('ERR_VALIDATION', 'from must not be after to', ['/from: after /to']);
    return { from, to };
  }

  async #record(name: string): Promise<DeviceRecord> {
    const record = await this.#deps.store.getDevice(name);
    if (!record) throw new HomeostatError('ERR_DEVICE_NOT_FOUND', `no device named ${name}`);
    return record;
  }
}

/** `desired` as given, with the controller-owned keys of `current` kept. */
function withControllerKeys(
  desired: Record<string, unknown>,
  current: Record<string, unknown>,
): Record<string, unknown> {
  const kept = { ...desired };
  for (const key of CONTROLLER_KEYS) {
    if (Object.hasOwn(current, key)) kept[key] = current[key];
    else delete kept[key];
  }
  return kept;
}

function conflict(name: string, given: number, current: number): HomeostatError {
  return new HomeostatError(
    'ERR_TWIN_VERSION_CONFLICT',
    `desired state of ${name} is at version ${current}, not ${given}; read it again and retry`,
  );
}
