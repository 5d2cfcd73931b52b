// Who is on the other end of each connection: the authentication of devices (name and token) and
// of provisioning clients (claim token), and the bookkeeping of which connection speaks for a
// device now. Authentication writes it; the publish path and the broker's events read it.

import { hashToken, sameHash } from '@homeostat/kit';
import { CLAIM_USERNAME, type ErrorCode } from '@homeostat/protocol';
import type { AuthenticateError, Client } from 'aedes';
import type { EnrollmentService } from '../services/enrollment.js';
import type { Identity } from './acl.js';
import type { HandlerDeps } from './context.js';

/** Claim client ids become a topic level; keep them plain. */
const CLAIM_CLIENT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

// aedes connect return codes [MQTT-3.2.2.3]
const IDENTIFIER_REJECTED = 2;
export const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

export function authError(code: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

/** What the endpoint knows of its clients and of the devices' credentials. */
export interface Sessions {
  readonly identities: WeakMap<Client, Identity>;
  /** The connection that speaks for each device now; older ones (taken over) are ignored. */
  readonly current: Map<string, Client>;
  /**
   * Connections replaced by a newer one of the same device (a takeover). aedes closes them and
   * publishes their will before the new connection is ready; neither says anything any more.
   */
  readonly superseded: WeakSet<Client>;
  /**
   * Device credentials as last read from the store, so a fleet reconnecting at once does not
   * queue thousands of reads behind the writes. Every change of a device's token or lifecycle
   * goes through the endpoint's `disconnect`, which drops the entry.
   */
  readonly credentials: Map<string, { tokenHash: string; lifecycle: string }>;
}

export function newSessions(): Sessions {
  return { identities: new WeakMap(), current: new Map(), superseded: new WeakSet(), credentials: new Map() };
}

export interface AuthContext {
  deps: Pick<HandlerDeps, 'store' | 'metrics' | 'events'> & { enrollment: EnrollmentService };
  sessions: Sessions;
}

/** Null when the client may connect (its identity is then known), else why it may not. */
export async function authenticate(
  ctx: AuthContext,
  client: Client,
  username?: string,
  password?: Buffer,
): Promise<AuthenticateError | null> {
  const { deps, sessions } = ctx;
  const { metrics } = deps;
  if (!username || !password || password.length === 0) {
    metrics.mqttAuthFailures.inc({ reason: 'anonymous' });
    securityEvent(ctx, null, 'ERR_MQTT_ANONYMOUS', 'anonymous MQTT connection refused', { clientId: client.id });
    return authError(NOT_AUTHORIZED, 'anonymous connections are refused');
  }
  const secret = password.toString('utf8');
  if (username === CLAIM_USERNAME) {
    if (!CLAIM_CLIENT_ID.test(client.id)) {
      metrics.mqttAuthFailures.inc({ reason: 'client-id' });
      return authError(IDENTIFIER_REJECTED, 'claim client id must match [A-Za-z0-9_.-]{1,64}');
    }
    const claim = await deps.enrollment.authenticateClaim(secret);
    if (!claim.ok) {
      metrics.mqttAuthFailures.inc({ reason: 'claim' });
      securityEvent(ctx, null, claim.error.code, `claim connection refused: ${claim.error.message}`, {
        clientId: client.id,
      });
      return authError(BAD_USERNAME_OR_PASSWORD, claim.error.message);
    }
    sessions.identities.set(client, { kind: 'claim', group: claim.group, clientId: client.id });
    return null;
  }
  const device = await credentials(ctx, username);
  if (device?.lifecycle === 'retired') {
    // Its token was revoked when it was replaced: say why, not merely "wrong token".
    metrics.mqttAuthFailures.inc({ reason: 'retired' });
    securityEvent(ctx, device.name, 'ERR_DEVICE_RETIRED', 'MQTT connection refused: device is retired', {
      lifecycle: device.lifecycle,
    });
    return authError(NOT_AUTHORIZED, 'device is retired');
  }
  if (!device || !sameHash(device.tokenHash, hashToken(secret))) {
    metrics.mqttAuthFailures.inc({ reason: 'credentials' });
    // Only a device that exists gets the event under its name: unknown names are not stored.
    securityEvent(
      ctx,
      device ? device.name : null,
      'ERR_MQTT_AUTH_FAILED',
      'MQTT connection refused: bad credentials',
      { username: device ? device.name : '(unknown device)' },
    );
    return authError(BAD_USERNAME_OR_PASSWORD, 'unknown device or wrong token');
  }
  if (client.id !== username) {
    metrics.mqttAuthFailures.inc({ reason: 'client-id' });
    securityEvent(ctx, device.name, 'ERR_MQTT_CLIENT_ID', 'MQTT connection refused: client id is not the device name', {
      clientId: client.id,
    });
    return authError(IDENTIFIER_REJECTED, 'client id must be the device name');
  }
  if (device.lifecycle === 'quarantined' || device.lifecycle === 'retired') {
    metrics.mqttAuthFailures.inc({ reason: device.lifecycle });
    securityEvent(ctx, device.name, 'ERR_MQTT_AUTH_FAILED', `MQTT connection refused: device is ${device.lifecycle}`, {
      lifecycle: device.lifecycle,
    });
    return authError(NOT_AUTHORIZED, `device is ${device.lifecycle}`);
  }
  const previous = sessions.current.get(device.name);
  if (previous && previous !== client) sessions.superseded.add(previous);
  sessions.identities.set(client, { kind: 'device', id: device.name });
  return null;
}

/** A device's credentials, from the cache or the store (only existing devices are cached). */
async function credentials(
  ctx: AuthContext,
  name: string,
): Promise<{ name: string; tokenHash: string; lifecycle: string } | undefined> {
  const cache = ctx.sessions.credentials;
  let cached = cache.get(name);
  if (!cached) {
    const record = await ctx.deps.store.getDevice(name);
    if (!record) return undefined;
    cached = { tokenHash: record.tokenHash, lifecycle: record.lifecycle };
    cache.set(name, cached);
  }
  return { name, ...cached };
}

function securityEvent(
  ctx: AuthContext,
  device: string | null,
  code: ErrorCode,
  message: string,
  data: Record<string, unknown>,
): void {
  ctx.deps.events.record({ device, type: 'security', code, severity: 'warning', message, data });
}
