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
  ERR_TRUST_INVALID: ERRORS.ERR_TRUST_INVALID.summary,
  ERR_TRUST_ROLLBACK: ERRORS.ERR_TRUST_ROLLBACK.summary,
  ERR_TRUST_EXPIRED: ERRORS.ERR_TRUST_EXPIRED.summary,
  ERR_UPDATE_MANIFEST_INVALID: ERRORS.ERR_UPDATE_MANIFEST_INVALID.summary,
  ERR_UPDATE_UNTRUSTED_KEY: ERRORS.ERR_UPDATE_UNTRUSTED_KEY.summary,
  ERR_UPDATE_SIGNATURE: ERRORS.ERR_UPDATE_SIGNATURE.summary,
  ERR_UPDATE_EXPIRED: ERRORS.ERR_UPDATE_EXPIRED.summary,
  ERR_UPDATE_WRONG_TARGET: ERRORS.ERR_UPDATE_WRONG_TARGET.summary,
  ERR_UPDATE_DOWNGRADE: ERRORS.ERR_UPDATE_DOWNGRADE.summary,
  ERR_UPDATE_REPLAYED: ERRORS.ERR_UPDATE_REPLAYED.summary,
  ERR_UPDATE_SIZE: ERRORS.ERR_UPDATE_SIZE.summary,
  ERR_UPDATE_HASH: ERRORS.ERR_UPDATE_HASH.summary,
  ERR_UPDATE_DISK_FULL: ERRORS.ERR_UPDATE_DISK_FULL.summary,
  ERR_UPDATE_PROBE_FAILED: ERRORS.ERR_UPDATE_PROBE_FAILED.summary,
  ERR_UPDATE_INTERRUPTED: ERRORS.ERR_UPDATE_INTERRUPTED.summary,
  ERR_UPDATE_WITHDRAWN: ERRORS.ERR_UPDATE_WITHDRAWN.summary,
  ERR_UPDATE_UNAVAILABLE: ERRORS.ERR_UPDATE_UNAVAILABLE.summary,
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
