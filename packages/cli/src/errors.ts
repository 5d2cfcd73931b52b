// What can go wrong in a command, and how each failure is shown and turned into an exit code:
// 0 ok, 1 error (the hub said no, the hub is unreachable, a file is bad), 2 usage error.

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/** A failure with lines to print after `error: ` and an exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly details: readonly string[];

  constructor(message: string, details: readonly string[] = [], exitCode = EXIT_ERROR) {
    super(message);
    this.name = 'CliError';
    this.details = details;
    this.exitCode = exitCode;
  }
}

/** The command line itself is wrong (bad flag value, missing argument): exit code 2. */
export class UsageError extends CliError {
  constructor(message: string, details: readonly string[] = []) {
    super(message, details, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** The hub answered with an error body (or a non-JSON failure). */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string, details: readonly string[] = []) {
    super(`${code}: ${message}`, details);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** The request never got an answer: refused, DNS, TLS, timeout. */
export class UnreachableError extends CliError {
  constructor(server: string, reason: string) {
    super(`cannot reach the hub at ${server} (${reason})`);
    this.name = 'UnreachableError';
  }
}

/** The lines printed to stderr for a failure; details are indented under the first line. */
export function formatError(err: CliError): string {
  const lines = [`error: ${err.message}`, ...err.details.map((d) => `  ${d}`)];
  return `${lines.join('\n')}\n`;
}
