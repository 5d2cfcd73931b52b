// The claim desk: answers zero-touch claim requests, and answers a retried one (same client,
// same nonce) with the same identity instead of enrolling a second device.

import { type Clock, hashToken, sameHash } from '@homeostat/kit';
import { ClaimRequest, type ErrorCode, parser } from '@homeostat/protocol';
import type { EnrollmentService } from '../services/enrollment.js';
import type { Store } from '../store/store.js';
import { decode } from './handlers/decode.js';

const claimRequest = parser(ClaimRequest);

/**
 * A claim that carries a nonce is answered again, identically, when the same client sends the
 * same nonce (its response was lost with a connection). The nonce is the device's own random
 * secret, so another holder of the claim token cannot replay it. Kept in memory only, for this
 * long (ms) and at most this many.
 */
const REPLAY_MS = 10 * 60_000;
const REPLAY_MAX = 10_000;

export interface ClaimDeskDeps {
  enrollment: EnrollmentService;
  store: Store;
  clock: Clock;
}

export function claimRefusal(code: ErrorCode | string, message: string): string {
  return JSON.stringify({ ok: false, error: { code, message } });
}

export class ClaimDesk {
  readonly #deps: ClaimDeskDeps;
  readonly #answered = new Map<string, { at: number; response: string; deviceId: string; tokenHash: string }>();

  constructor(deps: ClaimDeskDeps) {
    this.#deps = deps;
  }

  /** The JSON response to a claim request sent by `clientId` with a token of `group`. */
  async answer(group: string, clientId: string, payload: Buffer): Promise<string> {
    const decoded = decode(claimRequest, payload);
    if (!decoded.ok) return claimRefusal(decoded.error.code, decoded.error.message);
    const now = this.#deps.clock.now();
    const nonce = decoded.value.nonce;
    const key = nonce === undefined ? undefined : `${group}\u0000${clientId}\u0000${nonce}`;
    const replayed = key === undefined ? undefined : await this.#replay(key, now);
    if (replayed !== undefined) return replayed;
    const answer = await this.#deps.enrollment.claim(group, decoded.value);
    const response = JSON.stringify(answer);
    if (answer.ok && key !== undefined) this.#remember(key, now, response, answer.deviceId, answer.token);
    return response;
  }

  /** A remembered answer, if still valid: recent, and the device still has that token. */
  async #replay(key: string, now: number): Promise<string | undefined> {
    const previous = this.#answered.get(key);
    if (!previous || now - previous.at >= REPLAY_MS) return undefined;
    const device = await this.#deps.store.getDevice(previous.deviceId);
    if (!device || !sameHash(device.tokenHash, previous.tokenHash)) {
      this.#answered.delete(key);
      return undefined;
    }
    return previous.response;
  }

  #remember(key: string, now: number, response: string, deviceId: string, token: string): void {
    for (const [k, v] of this.#answered) {
      if (this.#answered.size < REPLAY_MAX && now - v.at < REPLAY_MS) break;
      this.#answered.delete(k); // oldest first: a Map iterates in insertion order
    }
    this.#answered.set(key, { at: now, response, deviceId, tokenHash: hashToken(token) });
  }
}
