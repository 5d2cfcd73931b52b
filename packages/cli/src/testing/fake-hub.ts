// A fake hub for the CLI's tests: a real HTTP server on 127.0.0.1 (port 0) answering just
// enough of the /api/v1 contract, from in-memory maps, and recording every request so tests can
// assert what was (and was not) sent. The end-to-end tests run the CLI against the real hub.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  API_VERSION,
  type ApiToken,
  applyMergePatch,
  CreateApiTokenRequest,
  CreateDeviceRequest,
  type Deployment,
  type DeploymentDryRun,
  type Device,
  deviceModules,
  type EnrollmentGroup,
  ERRORS,
  type ErrorCode,
  type HubEvent,
  matchesSelector,
  PatchDesiredRequest,
  PutDeploymentRequest,
  PutDeviceRequest,
  PutEnrollmentGroupRequest,
  parser,
  parseSelector,
  type Role,
  roleAllows,
} from '@homeostat/protocol';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

interface Canned {
  status: number;
  body: unknown;
}

type Reply = { status: number; body?: unknown };

const check = {
  createDevice: parser(CreateDeviceRequest),
  putDevice: parser(PutDeviceRequest),
  patchDesired: parser(PatchDesiredRequest),
  putGroup: parser(PutEnrollmentGroupRequest),
  putDeployment: parser(PutDeploymentRequest),
  createToken: parser(CreateApiTokenRequest),
};

class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: string[],
  ) {
    super(message ?? ERRORS[code].summary);
  }
}

/** A valid Device resource; `overrides` reach into metadata, twin and status one level deep. */
export function makeDevice(
  name: string,
  now: number,
  overrides: {
    labels?: Record<string, string>;
    desired?: Partial<Device['twin']['desired']>;
    reported?: Partial<Device['twin']['reported']>;
    status?: Partial<Device['status']>;
  } = {},
): Device {
  return {
    apiVersion: API_VERSION,
    kind: 'Device',
    metadata: { name, uid: randomUUID(), labels: overrides.labels ?? {}, createdAt: now, resourceVersion: 1 },
    twin: {
      desired: { version: 0, state: {}, updatedAt: null, ...overrides.desired },
      reported: { version: 0, state: {}, desiredVersion: null, updatedAt: null, ...overrides.reported },
    },
    status: {
      lifecycle: 'provisioned',
      liveness: {
        state: 'unknown',
        since: null,
        lastSeen: null,
        heartbeatMs: 5000,
        evidence: { kind: 'never-seen', at: null, detail: 'no message yet' },
      },
      connected: false,
      capabilities: {},
      agent: null,
      enrollmentGroup: null,
      ...overrides.status,
    },
  };
}

/** A valid Deployment resource with an empty status; `status` overrides it. */
export function makeDeployment(
  name: string,
  now: number,
  spec: Deployment['spec'],
  status: Partial<Deployment['status']> = {},
): Deployment {
  return {
    apiVersion: API_VERSION,
    kind: 'Deployment',
    metadata: { name, uid: randomUUID(), labels: {}, createdAt: now, resourceVersion: 1, generation: 1 },
    spec,
    status: { observedGeneration: 1, targeted: 0, applied: 0, pending: 0, failing: 0, overridden: 0, ...status },
  };
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  readonly devices = new Map<string, Device>();
  readonly deployments = new Map<string, Deployment>();
  /** What `PUT /deployments/{name}?dryRun=true` answers with, per name; by default no device changes. */
  readonly dryRuns = new Map<string, DeploymentDryRun['devices']>();
  readonly groups = new Map<string, EnrollmentGroup>();
  /** API tokens by secret. */
  readonly tokens = new Map<string, ApiToken>();
  readonly events: HubEvent[] = [];
  /** Points by `device/metric`. */
  readonly telemetry = new Map<string, { ts: number; seq: number; value: number }[]>();
  readonly #server: Server;
  readonly #canned: Canned[] = [];
  #now: () => number;
  #serial = 0;
  url = '';

  private constructor(now: () => number) {
    this.#now = now;
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  /** Starts on a free port with one token per role: `admin-secret`, `operator-secret`, `viewer-secret`. */
  static async start(now: () => number = Date.now): Promise<FakeHub> {
    const hub = new FakeHub(now);
    for (const role of ['admin', 'operator', 'viewer'] as const) {
      hub.tokens.set(`${role}-secret`, { name: role, role, createdAt: now() });
    }
    await new Promise<void>((resolve) => hub.#server.listen(0, '127.0.0.1', resolve));
    hub.url = `http://127.0.0.1:${(hub.#server.address() as AddressInfo).port}`;
    return hub;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The next request gets this answer instead of the normal one. */
  failNext(status: number, body: unknown): void {
    this.#canned.push({ status, body });
  }

  /** Requests that could change something (anything but GET). */
  mutations(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  addDevice(device: Device): Device {
    this.devices.set(device.metadata.name, device);
    return device;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    let badJson = false;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      badJson = true;
    }
    const method = req.method ?? 'GET';
    this.requests.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      authorization: req.headers.authorization,
    });
    let reply: Reply;
    const canned = this.#canned.shift();
    if (canned) reply = canned;
    else {
      try {
        if (badJson) throw new Refusal('ERR_BAD_JSON');
        reply = this.#route(method, url, body, req.headers.authorization);
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        const error = { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
        reply = { status: ERRORS[err.code].status, body: { error } };
      }
    }
    res.writeHead(reply.status, reply.body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
  }

  #route(method: string, url: URL, body: unknown, authorization: string | undefined): Reply {
    const parts = url.pathname
      .replace(/^\/api\/v1\/?/, '')
      .split('/')
      .filter(Boolean)
      .map(decodeURIComponent);
    const caller = this.#authenticate(authorization);
    const need: Role = method === 'GET' ? 'viewer' : parts[0] === 'tokens' ? 'admin' : 'operator';
    if (!roleAllows(caller.role, need)) throw new Refusal('ERR_AUTH_FORBIDDEN');
    const q = url.searchParams;
    const [resource, name, sub, sub2] = parts;
    const route = `${method} ${resource ?? ''}${name === undefined ? '' : '/:name'}${sub === undefined ? '' : `/${sub}`}${sub2 === undefined ? '' : `/${sub2}`}`;
    const n = name ?? '';
    switch (route) {
      case 'GET whoami':
        return { status: 200, body: { name: caller.name, role: caller.role } };
      case 'GET devices': {
        const selector = parseSelector(q.get('selector') ?? '');
        if ('errors' in selector) throw new Refusal('ERR_VALIDATION', 'invalid selector', selector.errors);
        const items = [...this.devices.values()].filter((d) => matchesSelector(d.metadata.labels, selector.terms));
        return { status: 200, body: { items } };
      }
      case 'POST devices': {
        const r = valid(check.createDevice, body);
        if (this.devices.has(r.name)) throw new Refusal('ERR_DEVICE_EXISTS');
        return { status: 201, body: this.#createDevice(r.name, r.labels, r.desired) };
      }
      case 'GET devices/:name':
        return { status: 200, body: this.#device(n) };
      case 'PUT devices/:name': {
        const r = valid(check.putDevice, body);
        const existing = this.devices.get(n);
        if (!existing) return { status: 201, body: this.#createDevice(n, r.labels, r.desired) };
        if (r.labels) existing.metadata.labels = r.labels;
        if (r.desired) this.#setDesired(existing, r.desired);
        existing.metadata.resourceVersion++;
        return { status: 200, body: existing };
      }
      case 'DELETE devices/:name':
        this.#device(n);
        this.devices.delete(n);
        return { status: 204 };
      case 'PATCH devices/:name/twin/desired': {
        const r = valid(check.patchDesired, body);
        const device = this.#device(n);
        if (r.version !== device.twin.desired.version) {
          throw new Refusal(
            'ERR_TWIN_VERSION_CONFLICT',
            `desired version is ${device.twin.desired.version}, the patch is based on ${r.version}`,
          );
        }
        this.#setDesired(device, applyMergePatch(device.twin.desired.state, r.state) as Record<string, unknown>);
        return { status: 200, body: device };
      }
      case 'POST devices/:name/token':
        return { status: 200, body: { device: this.#device(n), token: this.#secret('device') } };
      case 'GET devices/:name/telemetry': {
        this.#device(n);
        const metric = q.get('metric') ?? '';
        const from = Number(q.get('from') ?? 0);
        const limit = Number(q.get('limit') ?? 1000);
        const all = (this.telemetry.get(`${n}/${metric}`) ?? []).filter((p) => p.ts >= from);
        const points = all.slice(0, limit);
        return {
          status: 200,
          body: { device: n, metric, from, to: this.#now(), points, truncated: points.length < all.length },
        };
      }
      case 'GET devices/:name/modules': {
        const d = this.#device(n);
        return { status: 200, body: { device: n, items: deviceModules(d.twin.desired.state, d.twin.reported.state) } };
      }
      case 'GET deployments':
        return { status: 200, body: { items: [...this.deployments.values()] } };
      case 'GET deployments/:name':
        return { status: 200, body: this.#deployment(n) };
      case 'PUT deployments/:name': {
        const r = valid(check.putDeployment, body);
        const existing = this.deployments.get(n);
        const spec = { selector: r.spec.selector, priority: r.spec.priority ?? 0, modules: r.spec.modules };
        const next = existing ? { ...existing, spec } : makeDeployment(n, this.#now(), spec);
        next.metadata.labels = r.labels ?? {};
        if (q.get('dryRun') === 'true') {
          return { status: 200, body: { deployment: next, created: !existing, devices: this.dryRuns.get(n) ?? [] } };
        }
        if (existing) existing.metadata.resourceVersion++;
        this.deployments.set(n, next);
        return { status: existing ? 200 : 201, body: next };
      }
      case 'DELETE deployments/:name':
        this.#deployment(n);
        this.deployments.delete(n);
        return { status: 204 };
      case 'GET enrollment-groups':
        return { status: 200, body: { items: [...this.groups.values()] } };
      case 'GET enrollment-groups/:name':
        return { status: 200, body: this.#group(n) };
      case 'PUT enrollment-groups/:name': {
        const r = valid(check.putGroup, body);
        const existing = this.groups.get(n);
        if (existing) {
          existing.spec = { ...existing.spec, ...r, template: r.template ?? existing.spec.template };
          existing.metadata.resourceVersion++;
          return { status: 200, body: existing };
        }
        const group: EnrollmentGroup = {
          apiVersion: API_VERSION,
          kind: 'EnrollmentGroup',
          metadata: { name: n, uid: randomUUID(), createdAt: this.#now(), resourceVersion: 1 },
          spec: {
            template: r.template ?? {},
            namePrefix: r.namePrefix ?? `${n}-`,
            maxDevices: r.maxDevices ?? null,
            expiresAt: r.expiresAt ?? null,
          },
          status: { enrolled: 0 },
        };
        this.groups.set(n, group);
        return { status: 201, body: { group, claimToken: this.#secret('claim') } };
      }
      case 'DELETE enrollment-groups/:name':
        this.#group(n);
        this.groups.delete(n);
        return { status: 204 };
      case 'GET events': {
        const after = Number(q.get('after') ?? -1);
        const items = this.events
          .filter((e) => e.id > after)
          .filter((e) => !q.has('device') || e.device === q.get('device'))
          .filter((e) => !q.has('type') || e.type === q.get('type'))
          .slice(0, Number(q.get('limit') ?? 100));
        return { status: 200, body: { items } };
      }
      case 'GET tokens':
        return { status: 200, body: { items: [...this.tokens.values()] } };
      case 'POST tokens': {
        const r = valid(check.createToken, body);
        const token: ApiToken = { name: r.name, role: r.role, createdAt: this.#now() };
        const secret = this.#secret('api');
        this.tokens.set(secret, token);
        return { status: 201, body: { token, secret } };
      }
      case 'DELETE tokens/:name': {
        const entry = [...this.tokens].find(([, t]) => t.name === n);
        if (!entry) throw new Refusal('ERR_NOT_FOUND', `no token named ${n}`);
        this.tokens.delete(entry[0]);
        return { status: 204 };
      }
      default:
        throw new Refusal('ERR_NOT_FOUND', `no route for ${method} ${url.pathname}`);
    }
  }

  #authenticate(authorization: string | undefined): ApiToken {
    const match = /^Bearer (.+)$/.exec(authorization ?? '');
    if (!match?.[1]) throw new Refusal('ERR_AUTH_MISSING');
    const token = this.tokens.get(match[1]);
    if (!token) throw new Refusal('ERR_AUTH_INVALID');
    return token;
  }

  #device(name: string): Device {
    const device = this.devices.get(name);
    if (!device) throw new Refusal('ERR_DEVICE_NOT_FOUND', `no device named ${name}`);
    return device;
  }

  #deployment(name: string): Deployment {
    const deployment = this.deployments.get(name);
    if (!deployment) throw new Refusal('ERR_DEPLOYMENT_NOT_FOUND', `no deployment named ${name}`);
    return deployment;
  }

  #group(name: string): EnrollmentGroup {
    const group = this.groups.get(name);
    if (!group) throw new Refusal('ERR_ENROLLMENT_GROUP_NOT_FOUND', `no enrollment group named ${name}`);
    return group;
  }

  #createDevice(name: string, labels?: Record<string, string>, desired?: Record<string, unknown>) {
    const device = makeDevice(name, this.#now(), labels ? { labels } : {});
    if (desired) this.#setDesired(device, desired);
    this.devices.set(name, device);
    return { device, token: this.#secret('device') };
  }

  #setDesired(device: Device, state: Record<string, unknown>): void {
    device.twin.desired = { version: device.twin.desired.version + 1, state, updatedAt: this.#now() };
  }

  #secret(kind: string): string {
    return `${kind}-secret-${++this.#serial}`;
  }
}

function valid<T>(
  p: { parse(v: unknown): { ok: true; value: T } | { ok: false; errors: string[] } },
  body: unknown,
): T {
  const parsed = p.parse(body ?? {});
  if (!parsed.ok) throw new Refusal('ERR_VALIDATION', 'the request body does not match its schema', parsed.errors);
  return parsed.value;
}
