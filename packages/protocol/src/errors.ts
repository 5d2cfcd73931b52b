// The error catalogue. Every error Homeostat reports, over HTTP or MQTT, has one stable code
// here. docs/errors.md lists the same codes (a test keeps them in step); a retired code is
// never reused.

export const ERRORS = {
  // Requests and validation
  ERR_VALIDATION: { status: 400, summary: 'The request or message does not match its schema.' },
  ERR_BAD_JSON: { status: 400, summary: 'The body or payload is not valid JSON.' },
  ERR_PAYLOAD_TOO_LARGE: { status: 413, summary: 'The body or payload is larger than the configured limit.' },
  ERR_NOT_FOUND: { status: 404, summary: 'No such route or resource.' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'The body is not JSON.' },
  ERR_INTERNAL: { status: 500, summary: 'An unexpected failure in the hub; it is logged with the request id.' },
  // Authentication and authorization
  ERR_AUTH_MISSING: { status: 401, summary: 'No bearer token was given.' },
  ERR_AUTH_INVALID: { status: 401, summary: 'The bearer token is unknown or revoked.' },
  ERR_AUTH_FORBIDDEN: { status: 403, summary: "The token's role may not do this." },
  // Devices and twins
  ERR_DEVICE_NOT_FOUND: { status: 404, summary: 'No device has this name.' },
  ERR_DEVICE_EXISTS: { status: 409, summary: 'A device with this name exists already.' },
  ERR_TWIN_VERSION_CONFLICT: {
    status: 409,
    summary: 'The desired state changed since the version given; read it again and retry.',
  },
  ERR_TWIN_STALE_REPORTED: {
    status: 409,
    summary: 'A reported-state patch carried a version not above the one stored; it was ignored.',
  },
  ERR_TELEMETRY_TIMESTAMP: {
    status: 400,
    summary: "A reading's timestamp was too far in the future; it was stored at the hub's time.",
  },
  ERR_TELEMETRY_SEQ_CONFLICT: {
    status: 409,
    summary: 'A reading reused a seq stored already with another timestamp or other values; the first one is kept.',
  },
  // Enrollment (zero-touch provisioning)
  ERR_ENROLLMENT_GROUP_NOT_FOUND: { status: 404, summary: 'No enrollment group has this name.' },
  ERR_ENROLLMENT_GROUP_EXISTS: { status: 409, summary: 'An enrollment group with this name exists already.' },
  ERR_CLAIM_INVALID: { status: 401, summary: 'The claim token matches no enrollment group.' },
  ERR_CLAIM_EXPIRED: { status: 403, summary: "The enrollment group's claim token has expired." },
  ERR_CLAIM_EXHAUSTED: { status: 403, summary: 'The enrollment group has enrolled its maximum number of devices.' },
  // MQTT
  ERR_MQTT_AUTH_FAILED: { status: 401, summary: 'MQTT connection refused: unknown device or wrong token.' },
  ERR_MQTT_ANONYMOUS: { status: 401, summary: 'MQTT connection refused: no username or password.' },
  ERR_MQTT_CLIENT_ID: {
    status: 400,
    summary: 'MQTT connection refused: a device must connect with its name as client id.',
  },
  ERR_MQTT_TOPIC_DENIED: {
    status: 403,
    summary: 'A publish outside what the device may publish; acknowledged, not delivered.',
  },
  ERR_MQTT_SUBSCRIBE_DENIED: { status: 403, summary: 'A subscription outside the device subtree; refused in SUBACK.' },
  ERR_MQTT_UNKNOWN_TOPIC: { status: 404, summary: 'A publish to a topic the protocol does not define.' },
  // Reported by the agent (in command results, or as the reason its start failed)
  ERR_COMMAND_UNKNOWN: { status: 404, summary: 'The device has no handler for this command.' },
  ERR_COMMAND_EXPIRED: { status: 410, summary: 'The command reached the device after its expiresAt.' },
  ERR_COMMAND_FAILED: { status: 500, summary: "The device's command handler failed." },
  ERR_CLAIM_TIMEOUT: { status: 504, summary: 'The agent got no claim response from the hub in time.' },
  ERR_OUTBOX_FULL: {
    status: 507,
    summary: "The device's outbox is full and nothing less important is left to drop; the message was refused.",
  },
  ERR_CREDENTIALS_MISSING: {
    status: 400,
    summary: 'The agent has neither a device id and token, stored credentials, nor a claim token.',
  },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** The JSON body of every HTTP error, and the shape of an MQTT error notice's core. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: string[] };
}

/** The one error class. `details` carries validation problems as `path: message`. */
export class HomeostatError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: string[] | undefined;

  constructor(code: ErrorCode, message?: string, details?: string[]) {
    super(message ?? ERRORS[code].summary);
    this.name = 'HomeostatError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details && this.details.length > 0 ? { details: this.details } : {}),
      },
    };
  }
}

export function isHomeostatError(err: unknown): err is HomeostatError {
  return err instanceof HomeostatError;
}
