// heartbeat: proof of life. Its arrival is the evidence; the payload is optional.

import { HeartbeatMessage, parser } from '@homeostat/protocol';
import type { Handler } from '../context.js';
import { decode } from './decode.js';

const heartbeat = parser(HeartbeatMessage);

// Synchronous: the most frequent message of all waits for nothing.
export const handleHeartbeat: Handler = (deps, m) => {
  deps.liveness.observe(m.deviceId, { kind: 'heartbeat', at: m.now });
  if (m.payload.length === 0) return { ok: true };
  const decoded = decode(heartbeat, m.payload);
  return decoded.ok ? { ok: true } : decoded;
};
