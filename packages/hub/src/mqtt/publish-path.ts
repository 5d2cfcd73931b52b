// The publish path: what becomes of a client's message before aedes acknowledges it. The size
// limit, the ACL, the claim exchange, the handler of the topic, then the handler's result: the
// refusal, or the count, liveness and warnings, and the PUBACK held until the message is stored.
// aedes runs it in authorizePublish, which is what makes "acknowledged" mean "handled".

import { type DeviceTopicKind, topics } from '@homeostat/protocol';
import type { Client, PublishPacket } from 'aedes';
import { decidePublish, type Identity } from './acl.js';
import type { Sessions } from './authentication.js';
import { type ClaimDesk, claimRefusal } from './claims.js';
import type { HandlerDeps, HandlerResult } from './context.js';
import { handlerFor } from './dispatcher.js';
import { fromError, type NoticeContext, reject, sink, warn } from './notices.js';
import { GuardedConnection } from './packet-guard.js';

/**
 * Messages of one connection whose PUBACK may wait for their commit while the broker reads on;
 * past it, the broker waits for the commit before it reads the connection's next packets.
 */
const MAX_HELD_PER_CONNECTION = 256;

export interface PublishContext extends NoticeContext {
  /** Passed as is to the handlers. */
  deps: HandlerDeps;
  sessions: Sessions;
  claims: ClaimDesk;
}

/**
 * Handles a device's message before it is acknowledged: undefined when done at once (no I/O),
 * else a promise of the handling.
 */
export function authorizePublish(
  ctx: PublishContext,
  client: Client,
  packet: PublishPacket,
): Promise<void> | undefined {
  const { deps, sessions } = ctx;
  const identity = sessions.identities.get(client);
  if (!identity) {
    sink(packet);
    return undefined;
  }
  const device = identity.kind === 'device' ? identity.id : null;
  const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
  if (payload.length > deps.config.maxPayloadBytes) {
    const refuse = () =>
      reject(ctx, packet, device, {
        code: 'ERR_PAYLOAD_TOO_LARGE',
        message: `payload of ${payload.length} bytes is over the limit of ${deps.config.maxPayloadBytes}`,
      });
    if (identity.kind !== 'claim') {
      refuse();
      return undefined;
    }
    return respondToClaim(ctx, identity, claimRefusal('ERR_PAYLOAD_TOO_LARGE', 'claim request too large')).then(refuse);
  }
  const decision = decidePublish(identity, packet.topic);
  if (!decision.allow) {
    reject(ctx, packet, device, {
      code: decision.code,
      message: `publish to ${packet.topic} refused: ${decision.reason}`,
    });
    return undefined;
  }
  if ('claim' in decision) {
    sink(packet);
    if (identity.kind !== 'claim') return undefined;
    return ctx.claims
      .answer(identity.group, identity.clientId, payload)
      .then((response) => respondToClaim(ctx, identity, response));
  }
  // Only status is retained (it is the device's presence); anything else would pile up in the broker.
  if (decision.topic.kind !== 'status') packet.retain = false;
  const handler = handlerFor(decision.topic.kind);
  if (!handler || device === null) {
    reject(ctx, packet, device, { code: 'ERR_MQTT_TOPIC_DENIED', message: `publish to ${packet.topic} refused` });
    return undefined;
  }
  const isWill = client.closed;
  // A will from a connection that was taken over speaks for nobody any more.
  if (isWill && (sessions.superseded.has(client) || sessions.current.get(device) !== client)) {
    sink(packet);
    return undefined;
  }
  const now = deps.clock.now();
  const kind = decision.topic.kind;
  const result = handler(deps, { deviceId: device, topic: packet.topic, payload, isWill, now });
  if (result instanceof Promise) return result.then((r) => handled(ctx, client, packet, device, kind, now, r));
  return handled(ctx, client, packet, device, kind, now, result);
}

/**
 * What follows a handler's answer: the refusal or the count, liveness, and the warnings (once
 * stored, for a message taken but not stored yet). Undefined when nothing is left to wait for.
 */
function handled(
  ctx: PublishContext,
  client: Client,
  packet: PublishPacket,
  device: string,
  kind: DeviceTopicKind,
  now: number,
  result: HandlerResult,
): Promise<void> | undefined {
  const deps = ctx.deps;
  if (!result.ok) {
    reject(ctx, packet, device, { ...fromError(result.error), seq: result.seq, data: result.data });
    return undefined;
  }
  deps.metrics.countMessage(kind);
  if (kind !== 'heartbeat' && kind !== 'status') {
    deps.liveness.observe(device, { kind: 'message', at: now });
  }
  const topic = packet.topic;
  if (result.committed === undefined) {
    warn(ctx, device, topic, result);
    return undefined;
  }
  // Taken, not stored yet. Rather than keep the broker from reading this connection's next
  // packets until the commit (they would miss the batch being gathered), the connection holds
  // back its PUBACK, and what it writes after, until the commit: acknowledged still means stored.
  const conn: unknown = client.conn;
  if (conn instanceof GuardedConnection && conn.holds < MAX_HELD_PER_CONNECTION) {
    conn.hold(result.committed, (r) => warn(ctx, device, topic, r));
    return undefined;
  }
  return result.committed.then((r) => warn(ctx, device, topic, r));
}

async function respondToClaim(
  ctx: PublishContext,
  identity: Extract<Identity, { kind: 'claim' }>,
  response: string,
): Promise<void> {
  await ctx.publish(topics.claimResponse(identity.clientId), response, { qos: 1, retain: false });
}
