// MQTT topics. Every device topic sits under `homeostat/v1/{deviceId}/`; the table below is the
// contract (docs/protocol.md repeats it, and a test keeps the two in step).

import { isName } from './names.js';

export const TOPIC_ROOT = 'homeostat/v1';
/** Every device's subtree starts with this. */
const ROOT_PREFIX = `${TOPIC_ROOT}/`;

/** MQTT username of a provisioning client (not a valid device name, so it can never collide). */
export const CLAIM_USERNAME = '_claim';
/** Topic segment of the provisioning exchange: `homeostat/v1/_claim/{clientId}/request|response`. */
export const CLAIM_SEGMENT = '_claim';

export type Direction = 'device-to-hub' | 'hub-to-device';

export interface TopicSpec {
  /** The part after `homeostat/v1/{deviceId}/`; `{name}` stands for one topic level. */
  suffix: string;
  direction: Direction;
  qos: 0 | 1;
  retained: boolean;
  summary: string;
}

export const DEVICE_TOPICS = {
  telemetry: {
    suffix: 'telemetry',
    direction: 'device-to-hub',
    qos: 1,
    retained: false,
    summary: 'Readings: one message or an array of them; stored once per (device, seq).',
  },
  events: {
    suffix: 'events',
    direction: 'device-to-hub',
    qos: 1,
    retained: false,
    summary: 'Local decisions, alarms and logs; stored once per (device, seq).',
  },
  twinReported: {
    suffix: 'twin/reported',
    direction: 'device-to-hub',
    qos: 1,
    retained: false,
    summary: 'A merge patch of the reported state, with a version above the last one.',
  },
  twinDesired: {
    suffix: 'twin/desired',
    direction: 'hub-to-device',
    qos: 1,
    retained: true,
    summary: 'The whole desired state and its version.',
  },
  commands: {
    suffix: 'commands/{name}',
    direction: 'hub-to-device',
    qos: 1,
    retained: false,
    summary: 'A command to run before it expires.',
  },
  commandResults: {
    suffix: 'command-results',
    direction: 'device-to-hub',
    qos: 1,
    retained: false,
    summary: 'The outcome of a command, by its id.',
  },
  status: {
    suffix: 'status',
    direction: 'device-to-hub',
    qos: 1,
    retained: true,
    summary: 'Online or offline, the heartbeat interval and capabilities; also the last will.',
  },
  heartbeat: {
    suffix: 'heartbeat',
    direction: 'device-to-hub',
    qos: 0,
    retained: false,
    summary: 'Proof of life, every heartbeat interval.',
  },
  errors: {
    suffix: 'errors',
    direction: 'hub-to-device',
    qos: 0,
    retained: false,
    summary: 'Why the hub refused something the device sent.',
  },
} as const satisfies Record<string, TopicSpec>;

export type DeviceTopicKind = keyof typeof DEVICE_TOPICS;

export const topics = {
  telemetry: (id: string) => `${TOPIC_ROOT}/${id}/telemetry`,
  events: (id: string) => `${TOPIC_ROOT}/${id}/events`,
  twinReported: (id: string) => `${TOPIC_ROOT}/${id}/twin/reported`,
  twinDesired: (id: string) => `${TOPIC_ROOT}/${id}/twin/desired`,
  command: (id: string, name: string) => `${TOPIC_ROOT}/${id}/commands/${name}`,
  commands: (id: string) => `${TOPIC_ROOT}/${id}/commands/+`,
  commandResults: (id: string) => `${TOPIC_ROOT}/${id}/command-results`,
  status: (id: string) => `${TOPIC_ROOT}/${id}/status`,
  heartbeat: (id: string) => `${TOPIC_ROOT}/${id}/heartbeat`,
  errors: (id: string) => `${TOPIC_ROOT}/${id}/errors`,
  /** Everything of one device, for its own subscription. */
  deviceTree: (id: string) => `${TOPIC_ROOT}/${id}/#`,
  claimRequest: (clientId: string) => `${TOPIC_ROOT}/${CLAIM_SEGMENT}/${clientId}/request`,
  claimResponse: (clientId: string) => `${TOPIC_ROOT}/${CLAIM_SEGMENT}/${clientId}/response`,
} as const;

export type ParsedTopic =
  | { deviceId: string; kind: Exclude<DeviceTopicKind, 'commands'> }
  | { deviceId: string; kind: 'commands'; name: string };

const BY_SUFFIX = new Map<string, DeviceTopicKind>(
  Object.entries(DEVICE_TOPICS)
    .filter(([kind]) => kind !== 'commands')
    .map(([kind, spec]) => [spec.suffix, kind as DeviceTopicKind]),
);

/** Splits a device topic; `null` for anything outside the contract. */
export function parseDeviceTopic(topic: string): ParsedTopic | null {
  if (!topic.startsWith(ROOT_PREFIX)) return null;
  const rest = topic.slice(ROOT_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const deviceId = rest.slice(0, slash);
  if (!isName(deviceId)) return null;
  const suffix = rest.slice(slash + 1);
  if (suffix.startsWith('commands/')) {
    const name = suffix.slice('commands/'.length);
    return isName(name) ? { deviceId, kind: 'commands', name } : null;
  }
  const kind = BY_SUFFIX.get(suffix);
  if (kind === undefined || kind === 'commands') return null;
  return { deviceId, kind };
}

/** The device id a topic or topic filter names, if it is under the root; wildcards give none. */
export function topicDeviceSegment(topic: string): string | null {
  // On every message: one slice, no split.
  if (!topic.startsWith(ROOT_PREFIX)) return null;
  const slash = topic.indexOf('/', ROOT_PREFIX.length);
  const segment = slash < 0 ? topic.slice(ROOT_PREFIX.length) : topic.slice(ROOT_PREFIX.length, slash);
  return segment === '' || segment === '+' || segment === '#' ? null : segment;
}
