// command-results: the outcome of a command, recorded in the event log by command id.

import { CommandResultMessage, parser } from '@homeostat/protocol';
import type { Handler } from '../context.js';
import { decode } from './decode.js';

const commandResult = parser(CommandResultMessage);

export const handleCommandResult: Handler = async (deps, m) => {
  const decoded = decode(commandResult, m.payload);
  if (!decoded.ok) return decoded;
  const r = decoded.value;
  deps.events.record({
    device: m.deviceId,
    type: 'command-result',
    code: r.ok ? null : (r.error?.code ?? null),
    severity: r.ok ? 'info' : 'warning',
    message: r.ok ? `command ${r.id} succeeded` : `command ${r.id} failed: ${r.error?.message ?? 'no reason given'}`,
    data: { id: r.id, ok: r.ok, ...(r.result ? { result: r.result } : {}) },
  });
  return { ok: true };
};
