// The topic ACL, pure. Deny by default: a device publishes only device-to-hub topics of its own
// subtree and subscribes only inside it; a provisioning client only its own claim exchange.

import { DEVICE_TOPICS, type ParsedTopic, parseDeviceTopic, topicDeviceSegment, topics } from '@homeostat/protocol';

export type Identity = { kind: 'device'; id: string } | { kind: 'claim'; group: string; clientId: string };

export type PublishDecision =
  | { allow: true; topic: ParsedTopic }
  | { allow: true; claim: true }
  | { allow: false; code: 'ERR_MQTT_TOPIC_DENIED' | 'ERR_MQTT_UNKNOWN_TOPIC'; reason: string };

export function decidePublish(identity: Identity, topic: string): PublishDecision {
  if (identity.kind === 'claim') {
    return topic === topics.claimRequest(identity.clientId)
      ? { allow: true, claim: true }
      : {
          allow: false,
          code: 'ERR_MQTT_TOPIC_DENIED',
          reason: 'a provisioning client may publish only its claim request',
        };
  }
  if (topicDeviceSegment(topic) !== identity.id) {
    return { allow: false, code: 'ERR_MQTT_TOPIC_DENIED', reason: `outside homeostat/v1/${identity.id}/` };
  }
  const parsed = parseDeviceTopic(topic);
  if (parsed === null) return { allow: false, code: 'ERR_MQTT_UNKNOWN_TOPIC', reason: 'not a topic of the protocol' };
  if (DEVICE_TOPICS[parsed.kind].direction !== 'device-to-hub') {
    return { allow: false, code: 'ERR_MQTT_TOPIC_DENIED', reason: 'only the hub publishes this topic' };
  }
  return { allow: true, topic: parsed };
}

export function maySubscribe(identity: Identity, filter: string): boolean {
  if (identity.kind === 'claim') return filter === topics.claimResponse(identity.clientId);
  // `homeostat/v1/{id}/…` with wildcards only below the device level; `$SYS`, `#` and
  // `homeostat/v1/+/…` name no device and are refused.
  return topicDeviceSegment(filter) === identity.id;
}
