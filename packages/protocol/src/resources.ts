// HTTP resources under /api/v1. The hub's routes and the CLI both use these schemas; the
// OpenAPI document at /openapi.json is generated from them.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, METRIC_PATTERN, NAME_PATTERN } from './names.js';

export const API_VERSION = 'homeostat/v1';
export const API_PREFIX = '/api/v1';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when `have` includes everything `need` may do (admin > operator > viewer). */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export const Name = Type.String({ pattern: NAME_PATTERN, description: 'lowercase letters, digits, `-` and `.`' });
export const Labels = Type.Record(
  Type.String({ pattern: LABEL_KEY_PATTERN }),
  Type.String({ pattern: LABEL_VALUE_PATTERN }),
  { maxProperties: 64, additionalProperties: false },
);
const AnyObject = Type.Record(Type.String(), Type.Unknown());
const Millis = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Array(Type.String())),
  }),
});

export const Metadata = Type.Object({
  name: Type.String(),
  uid: Type.String(),
  labels: Labels,
  createdAt: Millis,
  resourceVersion: Type.Integer(),
});

export const LIVENESS_STATES = ['unknown', 'online', 'suspect', 'offline'] as const;
export type LivenessState = (typeof LIVENESS_STATES)[number];

export const EVIDENCE_KINDS = [
  'never-seen',
  'connected',
  'status-online',
  'status-offline',
  'last-will',
  'heartbeat',
  'message',
  'heartbeat-missed',
  'disconnected',
  'hub-restart',
] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

export const Liveness = Type.Object({
  state: Type.Union(LIVENESS_STATES.map((s) => Type.Literal(s))),
  since: Nullable(Millis),
  lastSeen: Nullable(Millis),
  heartbeatMs: Type.Integer(),
  evidence: Type.Object({
    kind: Type.Union(EVIDENCE_KINDS.map((k) => Type.Literal(k))),
    at: Nullable(Millis),
    detail: Type.String(),
  }),
});
export type Liveness = Static<typeof Liveness>;

export const LIFECYCLES = ['provisioned', 'active', 'maintenance', 'quarantined', 'retired'] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];

export const TwinDesired = Type.Object({ version: Type.Integer(), state: AnyObject, updatedAt: Nullable(Millis) });
export const TwinReported = Type.Object({
  version: Type.Integer(),
  state: AnyObject,
  desiredVersion: Nullable(Type.Integer()),
  updatedAt: Nullable(Millis),
});

export const Device = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Device'),
  metadata: Metadata,
  twin: Type.Object({ desired: TwinDesired, reported: TwinReported }),
  status: Type.Object({
    lifecycle: Type.Union(LIFECYCLES.map((s) => Type.Literal(s))),
    liveness: Liveness,
    connected: Type.Boolean(),
    capabilities: AnyObject,
    agent: Nullable(Type.Object({ version: Type.String() })),
    enrollmentGroup: Nullable(Type.String()),
    /** A retired device: the device that replaced it, if one did. */
    replacedBy: Type.Optional(Nullable(Type.String())),
  }),
});
export type Device = Static<typeof Device>;

export const DeviceList = Type.Object({ items: Type.Array(Device) });
export type DeviceList = Static<typeof DeviceList>;

export const CreateDeviceRequest = Type.Object(
  {
    name: Name,
    labels: Type.Optional(Labels),
    desired: Type.Optional(AnyObject),
  },
  { additionalProperties: false },
);
export type CreateDeviceRequest = Static<typeof CreateDeviceRequest>;

/** PUT /devices/{name}: create (with a token) or update labels; what `homeostat apply` sends. */
export const PutDeviceRequest = Type.Object(
  { labels: Type.Optional(Labels), desired: Type.Optional(AnyObject) },
  { additionalProperties: false },
);
export type PutDeviceRequest = Static<typeof PutDeviceRequest>;

/** Answer to a creation: the device and its token, shown this once. */
export const DeviceCredentials = Type.Object({ device: Device, token: Type.String() });
export type DeviceCredentials = Static<typeof DeviceCredentials>;

export const PatchDesiredRequest = Type.Object(
  {
    version: Type.Integer({ minimum: 0, description: 'the desired version this change is based on' }),
    state: AnyObject,
  },
  { additionalProperties: false },
);
export type PatchDesiredRequest = Static<typeof PatchDesiredRequest>;

export const TelemetryQuery = Type.Object({
  metric: Type.String({ pattern: METRIC_PATTERN }),
  from: Type.Optional(Millis),
  to: Type.Optional(Millis),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
  step: Type.Optional(
    Type.Integer({ minimum: 1000, description: 'bucket size in ms: the answer is downsampled (buckets, not points)' }),
  ),
  maxPoints: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 10_000, description: 'at most this many buckets: the step is chosen to fit' }),
  ),
});
export type TelemetryQuery = Static<typeof TelemetryQuery>;

export const TelemetryPoint = Type.Object({ ts: Millis, seq: Type.Integer(), value: Type.Number() });
export const TelemetrySeries = Type.Object({
  device: Type.String(),
  metric: Type.String(),
  from: Millis,
  to: Millis,
  points: Type.Array(TelemetryPoint),
  truncated: Type.Boolean(),
});
export type TelemetrySeries = Static<typeof TelemetrySeries>;

export const TelemetryBucket = Type.Object({
  ts: Type.Integer({ description: 'start of the bucket' }),
  count: Type.Integer(),
  min: Type.Number(),
  max: Type.Number(),
  avg: Type.Number(),
  last: Type.Number(),
});
export type TelemetryBucket = Static<typeof TelemetryBucket>;

export const TELEMETRY_SOURCES = ['raw', '1m', '1h'] as const;

/** A downsampled series: what a query with `step` or `maxPoints` answers. */
export const TelemetryBuckets = Type.Object({
  device: Type.String(),
  metric: Type.String(),
  from: Millis,
  to: Millis,
  step: Type.Integer(),
  source: Type.Union(
    TELEMETRY_SOURCES.map((x) => Type.Literal(x)),
    {
      description: 'raw readings, or the minute or hour rollups',
    },
  ),
  buckets: Type.Array(TelemetryBucket),
});
export type TelemetryBuckets = Static<typeof TelemetryBuckets>;

export const FLEET_AGGREGATES = ['avg', 'min', 'max', 'count', 'last'] as const;
export type FleetAggregate = (typeof FLEET_AGGREGATES)[number];

export const FleetTelemetryQuery = Type.Object({
  metric: Type.String({ pattern: METRIC_PATTERN }),
  selector: Type.Optional(Type.String({ description: 'label selector, e.g. site=paris' })),
  agg: Type.Optional(
    Type.Union(
      FLEET_AGGREGATES.map((a) => Type.Literal(a)),
      { default: 'avg' },
    ),
  ),
  from: Type.Optional(Millis),
  to: Type.Optional(Millis),
  step: Type.Optional(Type.Integer({ minimum: 1000 })),
  maxPoints: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
});
export type FleetTelemetryQuery = Static<typeof FleetTelemetryQuery>;

export const FleetTelemetry = Type.Object({
  metric: Type.String(),
  selector: Type.String(),
  agg: Type.Union(FLEET_AGGREGATES.map((a) => Type.Literal(a))),
  devices: Type.Integer({ description: 'devices the selector matched' }),
  from: Millis,
  to: Millis,
  step: Type.Integer(),
  source: Type.Union(TELEMETRY_SOURCES.map((x) => Type.Literal(x))),
  points: Type.Array(Type.Object({ ts: Type.Integer(), value: Type.Number(), count: Type.Integer() })),
});
export type FleetTelemetry = Static<typeof FleetTelemetry>;

export const EnrollmentTemplate = Type.Object(
  { labels: Type.Optional(Labels), desired: Type.Optional(AnyObject) },
  { additionalProperties: false },
);

export const EnrollmentGroup = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('EnrollmentGroup'),
  metadata: Type.Object({
    name: Type.String(),
    uid: Type.String(),
    createdAt: Millis,
    resourceVersion: Type.Integer(),
  }),
  spec: Type.Object({
    template: EnrollmentTemplate,
    namePrefix: Type.String(),
    maxDevices: Nullable(Type.Integer()),
    expiresAt: Nullable(Millis),
  }),
  status: Type.Object({ enrolled: Type.Integer() }),
});
export type EnrollmentGroup = Static<typeof EnrollmentGroup>;

export const EnrollmentGroupList = Type.Object({ items: Type.Array(EnrollmentGroup) });

export const PutEnrollmentGroupRequest = Type.Object(
  {
    template: Type.Optional(EnrollmentTemplate),
    namePrefix: Type.Optional(Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,40})?$' })),
    maxDevices: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
    expiresAt: Type.Optional(Nullable(Millis)),
  },
  { additionalProperties: false },
);
export type PutEnrollmentGroupRequest = Static<typeof PutEnrollmentGroupRequest>;

export const EnrollmentGroupCredentials = Type.Object({ group: EnrollmentGroup, claimToken: Type.String() });
export type EnrollmentGroupCredentials = Static<typeof EnrollmentGroupCredentials>;

export const HubEvent = Type.Object({
  id: Type.Integer(),
  ts: Millis,
  device: Nullable(Type.String()),
  source: Type.String({ description: 'hub or device' }),
  type: Type.String(),
  code: Nullable(Type.String()),
  severity: Type.String(),
  message: Type.String(),
  data: AnyObject,
});
export type HubEvent = Static<typeof HubEvent>;
export const HubEventList = Type.Object({ items: Type.Array(HubEvent) });

export const EventsQuery = Type.Object({
  device: Type.Optional(Name),
  type: Type.Optional(Type.String()),
  after: Type.Optional(Type.Integer({ minimum: 0, description: 'only events with a larger id' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
export type EventsQuery = Static<typeof EventsQuery>;

export const Health = Type.Object({ status: Type.String(), checks: Type.Optional(AnyObject) });

export const ApiToken = Type.Object({
  name: Name,
  role: Type.Union(ROLES.map((r) => Type.Literal(r))),
  createdAt: Millis,
});
export type ApiToken = Static<typeof ApiToken>;
export const ApiTokenList = Type.Object({ items: Type.Array(ApiToken) });
export const CreateApiTokenRequest = Type.Object(
  { name: Name, role: Type.Union(ROLES.map((r) => Type.Literal(r))) },
  { additionalProperties: false },
);
export type CreateApiTokenRequest = Static<typeof CreateApiTokenRequest>;
/** The secret is returned once, at creation. */
export const ApiTokenCredentials = Type.Object({ token: ApiToken, secret: Type.String() });
export type ApiTokenCredentials = Static<typeof ApiTokenCredentials>;

export const WhoAmI = Type.Object({ name: Type.String(), role: Type.Union(ROLES.map((r) => Type.Literal(r))) });
export type WhoAmI = Static<typeof WhoAmI>;

/** The routes of the HTTP API, for clients; each is documented in /openapi.json. */
export const routes = {
  devices: `${API_PREFIX}/devices`,
  device: (name: string) => `${API_PREFIX}/devices/${encodeURIComponent(name)}`,
  deviceDesired: (name: string) => `${API_PREFIX}/devices/${encodeURIComponent(name)}/twin/desired`,
  deviceToken: (name: string) => `${API_PREFIX}/devices/${encodeURIComponent(name)}/token`,
  deviceTelemetry: (name: string) => `${API_PREFIX}/devices/${encodeURIComponent(name)}/telemetry`,
  deviceModules: (name: string) => `${API_PREFIX}/devices/${encodeURIComponent(name)}/modules`,
  deployments: `${API_PREFIX}/deployments`,
  deployment: (name: string) => `${API_PREFIX}/deployments/${encodeURIComponent(name)}`,
  telemetry: `${API_PREFIX}/telemetry`,
  enrollmentGroups: `${API_PREFIX}/enrollment-groups`,
  enrollmentGroup: (name: string) => `${API_PREFIX}/enrollment-groups/${encodeURIComponent(name)}`,
  events: `${API_PREFIX}/events`,
  tokens: `${API_PREFIX}/tokens`,
  token: (name: string) => `${API_PREFIX}/tokens/${encodeURIComponent(name)}`,
  whoami: `${API_PREFIX}/whoami`,
  artifacts: `${API_PREFIX}/artifacts`,
  artifact: (name: string) => `${API_PREFIX}/artifacts/${encodeURIComponent(name)}`,
  blob: (sha256: string) => `${API_PREFIX}/blobs/${encodeURIComponent(sha256)}`,
  decisions: `${API_PREFIX}/decisions`,
  decision: (id: string) => `${API_PREFIX}/decisions/${encodeURIComponent(id)}`,
  decisionApprove: (id: string) => `${API_PREFIX}/decisions/${encodeURIComponent(id)}/approve`,
  decisionReject: (id: string) => `${API_PREFIX}/decisions/${encodeURIComponent(id)}/reject`,
  policies: `${API_PREFIX}/policies`,
  policy: (name: string) => `${API_PREFIX}/policies/${encodeURIComponent(name)}`,
  incidents: `${API_PREFIX}/incidents`,
  incident: (id: string) => `${API_PREFIX}/incidents/${encodeURIComponent(id)}`,
  incidentResolve: (id: string) => `${API_PREFIX}/incidents/${encodeURIComponent(id)}/resolve`,
  incidentPostMortem: (id: string) => `${API_PREFIX}/incidents/${encodeURIComponent(id)}/postmortem`,
  deviceReplace: (name: string) => `${API_PREFIX}/devices/${encodeURIComponent(name)}/replace`,
  autonomy: `${API_PREFIX}/autonomy`,
  deviceLifecycle: (name: string) => `${API_PREFIX}/devices/${encodeURIComponent(name)}/lifecycle`,
  rollouts: `${API_PREFIX}/rollouts`,
  rollout: (name: string) => `${API_PREFIX}/rollouts/${encodeURIComponent(name)}`,
  rolloutPause: (name: string) => `${API_PREFIX}/rollouts/${encodeURIComponent(name)}/pause`,
  rolloutResume: (name: string) => `${API_PREFIX}/rollouts/${encodeURIComponent(name)}/resume`,
  rolloutUndo: (name: string) => `${API_PREFIX}/rollouts/${encodeURIComponent(name)}/undo`,
  rolloutHistory: (name: string) => `${API_PREFIX}/rollouts/${encodeURIComponent(name)}/history`,
} as const;
