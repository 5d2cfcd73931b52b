// Edge telemetry settings, carried in a device's desired state under `telemetry`: whether the
// device sends raw readings or windowed summaries, and when it sends raw readings anyway.

import { type Static, Type } from '@sinclair/typebox';
import { Severity } from './messages.js';
import { METRIC_PATTERN } from './names.js';

export const AGGREGATE_STATS = ['min', 'max', 'avg', 'count', 'p95', 'last'] as const;
export type AggregateStat = (typeof AGGREGATE_STATS)[number];

export const RawWhen = Type.Object(
  {
    metric: Type.String({ pattern: METRIC_PATTERN }),
    above: Type.Optional(Type.Number()),
    below: Type.Optional(Type.Number()),
    /**
     * In the metric's unit: once abnormal, the episode lasts until the value is back inside the
     * bound by this much, so a value hovering at the bound is one episode, not many. Default 0.
     */
    hysteresis: Type.Optional(Type.Number({ minimum: 0 })),
    /** An `events` alarm with this code (and severity, default warning) at the start of each episode. */
    alarm: Type.Optional(
      Type.Object(
        { code: Type.String({ minLength: 1, maxLength: 128 }), severity: Type.Optional(Severity) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'abnormal while the metric is above or below the bound' },
);
export type RawWhen = Static<typeof RawWhen>;

export const TelemetrySettings = Type.Object(
  {
    mode: Type.Union([Type.Literal('raw'), Type.Literal('aggregate')], { default: 'raw' }),
    window: Type.Optional(
      Type.Object(
        {
          kind: Type.Union([Type.Literal('tumbling'), Type.Literal('sliding')]),
          sizeMs: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
          hopMs: Type.Optional(Type.Integer({ minimum: 1000, description: 'sliding windows: emitted every hop' })),
        },
        { additionalProperties: false },
      ),
    ),
    stats: Type.Optional(
      Type.Array(Type.Union(AGGREGATE_STATS.map((s) => Type.Literal(s))), { minItems: 1, uniqueItems: true }),
    ),
    /** Metrics summarised; default all. */
    metrics: Type.Optional(Type.Array(Type.String({ pattern: METRIC_PATTERN }), { minItems: 1 })),
    /**
     * Send each raw reading as well while any of these holds (the summaries keep going); an
     * episode with an `alarm` raises it once, in either mode.
     */
    rawWhen: Type.Optional(Type.Array(RawWhen, { maxItems: 32 })),
    /**
     * Raw readings go up for this long after an episode starts, then summaries only: the alarm has
     * told the hub, and an hour-long episode is not worth every reading. Default: the whole episode.
     */
    rawForMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
    /** Values sent (summaries and raw readings) are rounded to this many decimals: digits beyond
     * the sensor's resolution are noise, and bytes. Default: as measured. */
    decimals: Type.Optional(Type.Integer({ minimum: 0, maximum: 12 })),
  },
  { additionalProperties: false },
);
export type TelemetrySettings = Static<typeof TelemetrySettings>;
