// Refusals and notices: how the endpoint tells a device, on its `errors` topic, and the event log
// about what it refused or corrected, and where a refused publish goes instead of its topic. The
// ACL, the publish path and the subscription hook all refuse the same way, so it lives here once.

import { type ErrorCode, type ErrorNotice, type HomeostatError, topics } from '@homeostat/protocol';
import type { PublishPacket } from 'aedes';
import type { HandlerDeps, HandlerResult } from './context.js';

/** Where refused publishes are sent instead: no client can subscribe to a `$` topic through the ACL. */
const SINK_TOPIC = '$homeostat/refused';

/** Publishes from the hub, bypassing the ACL (the endpoint's `publish`). */
export type HubPublish = (topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }) => Promise<void>;

/** What refusing and telling need: the event log, the metrics and a way to publish. */
export interface NoticeContext {
  deps: Pick<HandlerDeps, 'events' | 'metrics'>;
  publish: HubPublish;
}

/** What the hub tells a device about something it refused or corrected. */
interface Notice {
  code: ErrorCode;
  topic: string;
  message: string;
  details?: string[] | undefined;
  seq?: number | undefined;
  data?: Record<string, unknown> | undefined;
}

export function fromError(error: HomeostatError): Omit<Notice, 'topic'> {
  return { code: error.code, message: error.message, details: error.details };
}

/** Acknowledges without delivering, and tells the device why. */
export function reject(
  ctx: NoticeContext,
  packet: PublishPacket,
  device: string | null,
  notice: Omit<Notice, 'topic'>,
): void {
  const topic = packet.topic;
  sink(packet);
  refuse(ctx, device, { ...notice, topic });
}

export function refuse(ctx: NoticeContext, device: string | null, notice: Notice): void {
  ctx.deps.metrics.mqttRejected.inc({ code: notice.code });
  const security = notice.code === 'ERR_MQTT_TOPIC_DENIED' || notice.code === 'ERR_MQTT_SUBSCRIBE_DENIED';
  tell(ctx, device, security ? 'security' : 'protocol', notice);
}

/** Tells the device what its message's result warns of. */
export function warn(ctx: NoticeContext, device: string, topic: string, result: HandlerResult): void {
  if (!result.ok) return;
  for (const warning of result.warnings ?? []) {
    tell(ctx, device, 'protocol', { ...fromError(warning.error), topic, seq: warning.seq });
  }
}

/** Logs the event and sends the notice on the device's `errors` topic. */
function tell(ctx: NoticeContext, device: string | null, type: 'security' | 'protocol', notice: Notice): void {
  const { code, topic, message, details, seq, data } = notice;
  ctx.deps.events.record({
    device,
    type,
    code,
    severity: 'warning',
    message,
    data: { topic, ...(details ? { details } : {}), ...(seq !== undefined ? { seq } : {}) },
  });
  if (device === null) return;
  const wire: ErrorNotice = {
    code,
    message,
    topic,
    ...(seq !== undefined ? { seq } : {}),
    ...(details ? { details } : {}),
    ...(data ? { data } : {}),
  };
  ctx.publish(topics.errors(device), JSON.stringify(wire), { qos: 0, retain: false }).catch(() => {});
}

/** Sends the packet nowhere: aedes still acknowledges it. */
export function sink(packet: PublishPacket): void {
  packet.topic = SINK_TOPIC;
  packet.retain = false;
}
