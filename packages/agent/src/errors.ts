// Errors the agent reports (in command results, and in the errors start() rejects with). Their
// codes are in the protocol's catalogue, like every code Homeostat reports.

import { ERRORS, type ErrorCode } from '@homeostat/protocol';

const CATALOGUED = {
  ERR_COMMAND_UNKNOWN: ERRORS.ERR_COMMAND_UNKNOWN.summary,
  ERR_COMMAND_EXPIRED: ERRORS.ERR_COMMAND_EXPIRED.summary,
  ERR_COMMAND_FAILED: ERRORS.ERR_COMMAND_FAILED.summary,
  ERR_CLAIM_TIMEOUT: ERRORS.ERR_CLAIM_TIMEOUT.summary,
  ERR_CREDENTIALS_MISSING: ERRORS.ERR_CREDENTIALS_MISSING.summary,
  ERR_OUTBOX_FULL: ERRORS.ERR_OUTBOX_FULL.summary,
} as const satisfies Partial<Record<ErrorCode, string>>;

export const AGENT_ERRORS = CATALOGUED;

export type AgentErrorCode = keyof typeof AGENT_ERRORS;

/** An error with a stable code; `code` may also be one the hub sent (e.g. ERR_CLAIM_INVALID). */
export class AgentError extends Error {
  readonly code: string;

  constructor(code: AgentErrorCode | (string & {}), message?: string) {
    super(message ?? (AGENT_ERRORS as Record<string, string>)[code] ?? code);
    this.name = 'AgentError';
    this.code = code;
  }
}
