// Error codes the agent itself reports (in command results and in the errors start() rejects
// with). They are not in protocol's catalogue yet; they belong there (see the hand-over report).

export const AGENT_ERRORS = {
  ERR_COMMAND_UNKNOWN: 'No handler is registered for this command.',
  ERR_COMMAND_EXPIRED: 'The command arrived after its expiresAt.',
  ERR_COMMAND_FAILED: 'The command handler threw.',
  ERR_CLAIM_TIMEOUT: 'No claim response from the hub in time.',
  ERR_CREDENTIALS_MISSING: 'Neither a device id and token, stored credentials, nor a claim token were given.',
} as const;

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
