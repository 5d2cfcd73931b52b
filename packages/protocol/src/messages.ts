// MQTT payload schemas, one per topic. JSON, UTF-8. Timestamps are milliseconds since the Unix
// epoch; `seq` is per device, monotonic across restarts, shared by telemetry and events.

import { type Static, Type } from '@sinclair/typebox';
import { METRIC_PATTERN, NAME_PATTERN } from './names.js';

const Millis = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const AnyObject = Type.Record(Type.String(), Type.Unknown());

/** Most metrics one reading may carry. */
export const MAX_METRICS_PER_READING = 256;
/** Most readings one telemetry message may carry. */
export const MAX_READINGS_PER_MESSAGE = 1000;

export const Reading = Type.Object(
  {
    seq: Seq,
    ts: Type.Optional(Millis),
    metrics: Type.Record(Type.String({ pattern: METRIC_PATTERN }), Type.Number(), {
      minProperties: 1,
      maxProperties: MAX_METRICS_PER_READING,
      additionalProperties: false,
    }),
  },
  { additionalProperties: false },
);
export type Reading = Static<typeof Reading>;

export const TelemetryMessage = Type.Union([
  Reading,
  Type.Array(Reading, { minItems: 1, maxItems: MAX_READINGS_PER_MESSAGE }),
]);
export type TelemetryMessage = Static<typeof TelemetryMessage>;

export const EventType = Type.Union([Type.Literal('alarm'), Type.Literal('action'), Type.Literal('log')]);
export const Severity = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]);

export const DeviceEventMessage = Type.Object(
  {
    seq: Seq,
    ts: Type.Optional(Millis),
    type: EventType,
    code: Type.Optional(Type.String({ maxLength: 128 })),
    severity: Type.Optional(Severity),
    message: Type.Optional(Type.String({ maxLength: 4096 })),
    data: Type.Optional(AnyObject),
  },
  { additionalProperties: false },
);
export type DeviceEventMessage = Static<typeof DeviceEventMessage>;

export const TwinDesiredMessage = Type.Object({
  version: Type.Integer({ minimum: 0 }),
  state: AnyObject,
});
export type TwinDesiredMessage = Static<typeof TwinDesiredMessage>;

export const TwinReportedMessage = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    state: AnyObject,
    desiredVersion: Type.Optional(Type.Integer({ minimum: 0, description: 'the desired version now applied' })),
    full: Type.Optional(
      Type.Boolean({ description: 'the state is the whole reported state: it replaces, not merges' }),
    ),
  },
  { additionalProperties: false },
);
export type TwinReportedMessage = Static<typeof TwinReportedMessage>;

export const CommandMessage = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  args: AnyObject,
  expiresAt: Type.Optional(Millis),
});
export type CommandMessage = Static<typeof CommandMessage>;

export const CommandResultMessage = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128 }),
    ok: Type.Boolean(),
    result: Type.Optional(AnyObject),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  },
  { additionalProperties: false },
);
export type CommandResultMessage = Static<typeof CommandResultMessage>;

export const Capabilities = Type.Object({
  kind: Type.Optional(Type.String({ maxLength: 64, description: 'what the device is: thermostat, mower…' })),
  cpus: Type.Optional(Type.Integer({ minimum: 0 })),
  memoryBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  battery: Type.Optional(Type.Boolean()),
  accelerators: Type.Optional(Type.Array(Type.String())),
  executionProviders: Type.Optional(Type.Array(Type.String())),
  sensors: Type.Optional(Type.Array(Type.String())),
  actuators: Type.Optional(Type.Array(Type.String())),
});
export type Capabilities = Static<typeof Capabilities>;

export const StatusMessage = Type.Object({
  online: Type.Boolean(),
  ts: Type.Optional(Millis),
  heartbeatMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
  reason: Type.Optional(Type.String({ maxLength: 256 })),
  agent: Type.Optional(Type.Object({ version: Type.String({ maxLength: 64 }) })),
  capabilities: Type.Optional(Capabilities),
});
export type StatusMessage = Static<typeof StatusMessage>;

/** A heartbeat may also be an empty payload. */
export const HeartbeatMessage = Type.Object({
  ts: Type.Optional(Millis),
  uptimeMs: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;

/** Sent by the hub on `errors` when it refuses what a device sent. */
export const ErrorNotice = Type.Object({
  code: Type.String(),
  message: Type.String(),
  topic: Type.String(),
  seq: Type.Optional(Seq),
  details: Type.Optional(Type.Array(Type.String())),
  /** Machine-readable context, e.g. `{"currentVersion": 7}` for ERR_TWIN_STALE_REPORTED. */
  data: Type.Optional(AnyObject),
});
export type ErrorNotice = Static<typeof ErrorNotice>;

export const ClaimRequest = Type.Object(
  {
    name: Type.Optional(Type.String({ pattern: NAME_PATTERN, description: 'the name the device asks for' })),
    serial: Type.Optional(Type.String({ maxLength: 128 })),
    nonce: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{16,128}$',
        description: 'random, per claim: a retry with the same nonce gets the same answer',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ClaimRequest = Static<typeof ClaimRequest>;

export const ClaimResponse = Type.Union([
  Type.Object({ ok: Type.Literal(true), deviceId: Type.String(), token: Type.String() }),
  Type.Object({ ok: Type.Literal(false), error: Type.Object({ code: Type.String(), message: Type.String() }) }),
]);
export type ClaimResponse = Static<typeof ClaimResponse>;
