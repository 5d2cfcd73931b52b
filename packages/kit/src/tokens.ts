// Secrets: random tokens and the hashes that are all the hub keeps of them. Tokens carry 256
// bits of randomness, so a plain SHA-256 is a sufficient one-way store (no password stretching
// needed), and lookups by hash are constant work.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new secret with a readable prefix naming what it is for (`hsd_` device, `hsa_` API…). */
export function newToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A short random id for resources (uids), 16 hex characters. */
export function newUid(): string {
  return randomBytes(8).toString('hex');
}
