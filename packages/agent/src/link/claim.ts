// Zero-touch provisioning: a device without credentials connects as `_claim` with its claim
// token, asks for an identity on `homeostat/v1/_claim/{clientId}/request` and gets its device id
// and token on `.../response`. Connection failures are retried (with backoff) until the
// deadline; an answer from the hub, positive or not, ends the exchange.

import { randomBytes } from 'node:crypto';
import { type BackoffOptions, backoffDelay, type Clock, type Logger, type Timer } from '@homeostat/kit';
import { CLAIM_USERNAME, type ClaimRequest, ClaimResponse, parseJson, parser, topics } from '@homeostat/protocol';
import { connect, type MqttClient } from 'mqtt';
import { AgentError } from '../errors.js';
import type { DeviceCredentials } from './credentials.js';

export interface ClaimOptions {
  url: string;
  claimToken: string;
  /** The device name to ask for; the hub may grant another one. */
  name?: string;
  serial?: string;
  clock: Clock;
  logger: Logger;
  backoff: BackoffOptions;
  /** Give up after this long, in ms on the clock. Default 10 000. */
  timeoutMs?: number;
  /** Aborting ends the exchange; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

const parseResponse = parser(ClaimResponse);

/** Resolves with the credentials the hub granted; rejects with an AgentError carrying a code. */
export function claimDevice(options: ClaimOptions): Promise<DeviceCredentials> {
  const { url, claimToken, clock, logger, backoff } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  // 22 characters: within the 23 every MQTT 3.1.1 broker must accept [MQTT-3.1.3-5].
  const clientId = `claim-${randomBytes(8).toString('hex')}`;
  const request: ClaimRequest = {
    // Retries of this claim send the same nonce: the hub answers them with the same identity.
    nonce: randomBytes(16).toString('hex'),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.serial !== undefined ? { serial: options.serial } : {}),
  };

  return new Promise<DeviceCredentials>((resolve, reject) => {
    let settled = false;
    let client: MqttClient | null = null;
    let retry: Timer | null = null;
    let attempt = 0;

    const finish = (err: Error | null, credentials?: DeviceCredentials) => {
      if (settled) return;
      settled = true;
      deadline.cancel();
      options.signal?.removeEventListener('abort', onAbort);
      retry?.cancel();
      client?.end(true);
      if (err !== null) reject(err);
      else resolve(credentials!);
    };

    const deadline = clock.setTimeout(
      () => finish(new AgentError('ERR_CLAIM_TIMEOUT', `claim: no answer from ${url} within ${timeoutMs} ms`)),
      timeoutMs,
    );

    const onAbort = () =>
      finish(options.signal?.reason instanceof Error ? options.signal.reason : new Error('claim: aborted'));
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const open = () => {
      const c = connect(url, {
        clientId,
        username: CLAIM_USERNAME,
        password: claimToken,
        clean: true,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: timeoutMs,
        keepalive: 30,
      });
      client = c;
      const responseTopic = topics.claimResponse(clientId);

      c.on('connect', () => {
        // Subscribe first, so the response cannot arrive before we listen for it.
        c.subscribe(responseTopic, { qos: 1 }, (err, granted) => {
          if (err || granted?.[0]?.qos === 128) {
            finish(new AgentError('ERR_MQTT_SUBSCRIBE_DENIED', `claim: subscription to ${responseTopic} refused`));
            return;
          }
          logger.info({ clientId, name: options.name }, 'claim: asking the hub for an identity');
          c.publish(topics.claimRequest(clientId), JSON.stringify(request), { qos: 1 });
        });
      });
      c.on('message', (topic, payload) => {
        if (topic !== responseTopic) return;
        const json = parseJson(payload.toString('utf8'));
        const parsed = json.ok ? parseResponse.parse(json.value) : json;
        if (!parsed.ok) {
          finish(new AgentError('ERR_VALIDATION', `claim: invalid response: ${parsed.errors.join('; ')}`));
        } else if (parsed.value.ok) {
          logger.info({ deviceId: parsed.value.deviceId }, 'claim: granted');
          finish(null, { deviceId: parsed.value.deviceId, token: parsed.value.token });
        } else {
          const { code, message } = parsed.value.error;
          finish(new AgentError(code, `claim refused: ${code}: ${message}`));
        }
      });
      c.on('error', (err) => {
        if (typeof (err as { code?: unknown }).code === 'number') {
          // CONNACK refused: the broker did not accept the claim token itself.
          finish(new AgentError('ERR_CLAIM_INVALID', `claim refused by ${url}: ${err.message}`));
        } else {
          logger.debug({ err: err.message }, 'claim: connection error');
        }
      });
      c.on('close', () => {
        c.end(true);
        if (settled || client !== c) return;
        const delay = backoffDelay(attempt++, backoff);
        retry = clock.setTimeout(open, delay);
      });
    };

    open();
  });
}
