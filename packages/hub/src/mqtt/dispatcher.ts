// One handler per device-to-hub topic, in a flat, exhaustive table.

import type { DeviceTopicKind } from '@homeostat/protocol';
import type { Handler } from './context.js';
import { handleCommandResult } from './handlers/command-results.js';
import { handleEvents } from './handlers/events.js';
import { handleHeartbeat } from './handlers/heartbeat.js';
import { handleStatus } from './handlers/status.js';
import { handleTelemetry } from './handlers/telemetry.js';
import { handleTwinReported } from './handlers/twin-reported.js';

type DeviceToHub = Exclude<DeviceTopicKind, 'twinDesired' | 'commands' | 'errors'>;

export const handlers: Record<DeviceToHub, Handler> = {
  telemetry: handleTelemetry,
  events: handleEvents,
  twinReported: handleTwinReported,
  status: handleStatus,
  heartbeat: handleHeartbeat,
  commandResults: handleCommandResult,
};

export function handlerFor(kind: DeviceTopicKind): Handler | undefined {
  return kind in handlers ? handlers[kind as DeviceToHub] : undefined;
}
