// Prometheus metrics of one hub. A registry per hub (no global one), so several hubs can run in
// one process (tests) without sharing counters. No per-device labels: cardinality stays flat.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const r = [registry];
  const messageCounts = new Map<string, number>();
  return {
    registry,
    mqttConnections: new Gauge({
      name: 'homeostat_mqtt_connections',
      help: 'Authenticated MQTT connections now open.',
      registers: r,
    }),
    mqttAuthFailures: new Counter({
      name: 'homeostat_mqtt_auth_failures_total',
      help: 'MQTT connections refused, by reason.',
      labelNames: ['reason'],
      registers: r,
    }),
    mqttMessages: new Counter({
      name: 'homeostat_mqtt_messages_received_total',
      help: 'Device messages accepted, by topic kind.',
      labelNames: ['kind'],
      registers: r,
      // Counted in a plain map on the hot path (every heartbeat), handed over when read.
      collect() {
        for (const [kind, n] of messageCounts) this.inc({ kind }, n);
        messageCounts.clear();
      },
    }),
    /** Counts one accepted device message of a topic kind (`homeostat_mqtt_messages_received_total`). */
    countMessage(kind: string): void {
      messageCounts.set(kind, (messageCounts.get(kind) ?? 0) + 1);
    },
    mqttRejected: new Counter({
      name: 'homeostat_mqtt_messages_rejected_total',
      help: 'Device messages refused, by error code.',
      labelNames: ['code'],
      registers: r,
    }),
    mqttPacketsRefused: new Counter({
      name: 'homeostat_mqtt_packets_refused_total',
      help: 'MQTT connections closed by the packet guard (packet over the size limit, or malformed), by reason.',
      labelNames: ['reason'],
      registers: r,
    }),
    mqttSubscribeDenied: new Counter({
      name: 'homeostat_mqtt_subscriptions_denied_total',
      help: 'Subscriptions refused by the topic ACL.',
      registers: r,
    }),
    readingsStored: new Counter({
      name: 'homeostat_telemetry_readings_stored_total',
      help: 'Metric values stored.',
      registers: r,
    }),
    readingsDuplicate: new Counter({
      name: 'homeostat_telemetry_duplicates_total',
      help: 'Metric values received again, in a reading whose (device, seq) is stored already with the same content (a redelivery), and ignored.',
      registers: r,
    }),
    readingsConflict: new Counter({
      name: 'homeostat_telemetry_seq_conflicts_total',
      help: 'Readings whose (device, seq) is stored already with another timestamp or other values (a reused seq); the first reading is kept.',
      registers: r,
    }),
    readingsClockCorrected: new Counter({
      name: 'homeostat_telemetry_clock_corrected_total',
      help: 'Readings stamped too far in the future (a device clock off), stored at the hub time instead.',
      registers: r,
    }),
    ingestSeconds: new Histogram({
      name: 'homeostat_telemetry_write_seconds',
      help: 'Time to write one batch of telemetry (one transaction).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: r,
    }),
    ingestBatchValues: new Histogram({
      name: 'homeostat_telemetry_batch_values',
      help: 'Metric values per telemetry write (one transaction gathers every message waiting).',
      buckets: [1, 10, 50, 100, 500, 1000, 5000, 20000],
      registers: r,
    }),
    hubSignal: new Gauge({
      name: 'homeostat_hub_signal',
      help: "What the hub's own loop last sampled about the hub, by metric (store-budget-ratio, store-bytes, disk-free-bytes, ingest-backlog, ingest-write-ms, controller-queue-depth, controller-lag-ms).",
      labelNames: ['metric'],
      registers: r,
    }),
    hubMode: new Gauge({
      name: 'homeostat_hub_mode',
      help: "1 while the hub's own loop holds a mode: backpressure, tighten-retention, shed-hub-placement, shed-controller-resync.",
      labelNames: ['mode'],
      registers: r,
    }),
    retentionRawSeconds: new Gauge({
      name: 'homeostat_telemetry_raw_retention_seconds',
      help: 'How long raw readings are kept now: the configured retention, or a tighter one while a hub policy holds it.',
      registers: r,
    }),
    ingestHeld: new Counter({
      name: 'homeostat_ingest_backpressure_held_total',
      help: 'Telemetry messages whose acknowledgement waited under backpressure (the device kept them meanwhile).',
      registers: r,
    }),
    ingestHeldReleased: new Counter({
      name: 'homeostat_ingest_backpressure_released_total',
      help: 'Held telemetry messages let through, by reason: backlog (the queue got short), timeout (held maxHoldMs), off (backpressure released).',
      labelNames: ['reason'],
      registers: r,
    }),
    ingestHeldNow: new Gauge({
      name: 'homeostat_ingest_backpressure_held',
      help: 'Telemetry messages held now.',
      registers: r,
    }),
    ingestHeldSeconds: new Histogram({
      name: 'homeostat_ingest_backpressure_hold_seconds',
      help: 'How long a held telemetry message waited.',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
      registers: r,
    }),
    retentionDeleted: new Counter({
      name: 'homeostat_telemetry_retention_deleted_total',
      help: 'Raw readings and rollup rows deleted by retention.',
      registers: r,
    }),
    livenessTransitions: new Counter({
      name: 'homeostat_liveness_transitions_total',
      help: 'Device liveness changes, by new state.',
      labelNames: ['state'],
      registers: r,
    }),
    eventsSuppressed: new Counter({
      name: 'homeostat_events_suppressed_total',
      help: 'Hub events not stored because one device raised too many of one code.',
      registers: r,
    }),
    httpRequests: new Counter({
      name: 'homeostat_http_requests_total',
      help: 'HTTP requests, by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      registers: r,
    }),
    deploymentReconciles: new Counter({
      name: 'homeostat_deployment_reconciles_total',
      help: 'Deployment controller reconciles, by result (ok, error) and by desired modules written (written).',
      labelNames: ['result'],
      registers: r,
    }),
    claims: new Counter({
      name: 'homeostat_enrollment_claims_total',
      help: 'Zero-touch claims, by outcome.',
      labelNames: ['outcome'],
      registers: r,
    }),
  };
}

export type HubMetrics = ReturnType<typeof createMetrics>;
