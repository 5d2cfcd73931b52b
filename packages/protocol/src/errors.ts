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
  ERR_DEVICE_RETIRED: {
    status: 409,
    summary: 'The device is retired (replaced): it can no longer connect, be replaced, or replace another.',
  },
  ERR_REPLACE_SELF: { status: 400, summary: 'A device cannot be replaced with itself.' },
  ERR_REPLACE_IN_SERVICE: {
    status: 409,
    summary: 'The new device is in service in another slot (its slot label differs): it cannot take this one.',
  },
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
  // Deployments
  ERR_DEPLOYMENT_NOT_FOUND: { status: 404, summary: 'No deployment has this name.' },
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
  // Artifacts (the hub's store of update files and their signed manifests)
  ERR_ARTIFACT_NOT_FOUND: { status: 404, summary: 'No artifact has this name (or this name and version).' },
  ERR_ARTIFACT_EXISTS: {
    status: 409,
    summary: 'This name and version were pushed already with another manifest; versions are immutable.',
  },
  ERR_BLOB_NOT_FOUND: { status: 404, summary: 'No file with this SHA-256 was uploaded.' },
  ERR_BLOB_MISMATCH: {
    status: 400,
    summary: 'The uploaded bytes do not have the SHA-256 (or size) they were sent as.',
  },
  ERR_RANGE_NOT_SATISFIABLE: { status: 416, summary: 'The requested byte range is outside the file.' },
  // Signed updates: trust (reported by the agent)
  ERR_TRUST_INVALID: {
    status: 400,
    summary:
      'A trusted-keys list that does not parse or is not signed by the root key the device was provisioned with.',
  },
  ERR_TRUST_ROLLBACK: {
    status: 409,
    summary: 'A trusted-keys list older than (or as old as, but different from) the one the device holds.',
  },
  ERR_TRUST_EXPIRED: {
    status: 403,
    summary: 'A trusted-keys list past its expiry: signing keys cannot be trusted until a fresh list arrives.',
  },
  ERR_UPDATE_MANIFEST_INVALID: { status: 400, summary: 'An artifact manifest that does not match its schema.' },
  ERR_UPDATE_UNTRUSTED_KEY: { status: 403, summary: 'An artifact manifest signed by no key in the trusted-keys list.' },
  ERR_UPDATE_SIGNATURE: {
    status: 403,
    summary: 'An artifact manifest whose signature by a trusted key does not verify: it was altered after signing.',
  },
  ERR_UPDATE_EXPIRED: { status: 403, summary: 'An artifact manifest past its expiry.' },
  ERR_UPDATE_WRONG_TARGET: {
    status: 403,
    summary: "An artifact whose target models do not include the device's model.",
  },
  ERR_UPDATE_DOWNGRADE: {
    status: 409,
    summary: 'An artifact older than the highest version the device has ever installed.',
  },
  ERR_UPDATE_REPLAYED: {
    status: 409,
    summary: 'An artifact of the highest version the device has already installed: a replayed manifest.',
  },
  ERR_UPDATE_SIZE: {
    status: 422,
    summary: 'The downloaded file is not the size the manifest states (a truncated or padded download).',
  },
  ERR_UPDATE_HASH: {
    status: 422,
    summary: 'The downloaded file does not have the SHA-256 the manifest states (a tampered file).',
  },
  ERR_UPDATE_DISK_FULL: {
    status: 507,
    summary: 'The inactive slot has no room for the artifact; nothing was switched.',
  },
  ERR_UPDATE_PROBE_FAILED: {
    status: 424,
    summary: 'The new version did not pass its health checks within the probe window; the device rolled back.',
  },
  ERR_UPDATE_INTERRUPTED: {
    status: 409,
    summary: 'The device restarted while the new version was on trial, before it committed; it rolled back.',
  },
  ERR_UPDATE_WITHDRAWN: {
    status: 409,
    summary: 'The desired update was removed or replaced before the switch; the device stopped installing it.',
  },
  ERR_UPDATE_REVERTED: {
    status: 409,
    summary:
      'The hub asked the device to go back from a committed version (a rollout halted); it runs the version before.',
  },
  ERR_UPDATE_NOT_REVERTIBLE: {
    status: 403,
    summary:
      'The hub asked the device to go back from a version whose signed manifest does not allow it, or its other slot holds no earlier version.',
  },
  ERR_UPDATE_UNAVAILABLE: {
    status: 503,
    summary: 'The agent has nowhere to download the artifact from (it was started without the hub API URL).',
  },
  // The autonomic manager
  ERR_POLICY_NOT_FOUND: { status: 404, summary: 'No policy has this name.' },
  ERR_POLICY_INVALID: {
    status: 422,
    summary:
      'The policy contradicts another, would act on the whole fleet without a rate limit, or names something unknown.',
  },
  ERR_POLICY_SELF_LOOP: {
    status: 422,
    summary: 'The policy would feed itself: one of its actions produces the signal its own trigger watches.',
  },
  ERR_POLICY_PING_PONG: {
    status: 422,
    summary: "The policy and a stored one would trigger each other: each one's actions produce the other's trigger.",
  },
  ERR_DECISION_NOT_FOUND: { status: 404, summary: 'No decision has this id.' },
  ERR_DECISION_STATE: {
    status: 409,
    summary: 'The decision is not awaiting approval (decided already, or never asked).',
  },
  ERR_INCIDENT_NOT_FOUND: { status: 404, summary: 'No incident has this id.' },
  ERR_INCIDENT_STATE: { status: 409, summary: 'The incident is resolved already.' },
  ERR_POSTMORTEM_NOT_FOUND: {
    status: 404,
    summary: 'The incident has no post-mortem: it is still open, or it is a work order.',
  },
  // Models (ONNX inference, on the device or in the hub)
  ERR_MODEL_HASH_MISMATCH: {
    status: 422,
    summary: 'The model bytes do not have the SHA-256 they were announced with; they were not loaded.',
  },
  ERR_MODEL_INVALID: { status: 422, summary: 'The inference runtime could not load the model.' },
  ERR_MODEL_INPUT: { status: 400, summary: "The inputs given to a model do not match the model's inputs." },
  // Rollouts
  ERR_ROLLOUT_NOT_FOUND: { status: 404, summary: 'No rollout has this name.' },
  ERR_ROLLOUT_REVISION_NOT_FOUND: { status: 404, summary: 'The rollout has no revision with this number.' },
  ERR_ROLLOUT_CONFLICT: {
    status: 409,
    summary: 'Another rollout that is progressing or paused targets some of the same devices.',
  },
  ERR_ROLLOUT_PHASE: { status: 409, summary: 'The rollout is not in a phase that allows this.' },
  ERR_ROLLOUT_MANIFEST_EXPIRED: {
    status: 409,
    summary: "The artifact's signed manifest has expired: every device would refuse it.",
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
