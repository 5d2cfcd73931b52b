// Shared first step of every handler: bytes to a typed message, or a precise refusal.

import { HomeostatError, type Parser, parseJson } from '@homeostat/protocol';
import type { Static, TSchema } from '@sinclair/typebox';

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: HomeostatError };

export function decode<S extends TSchema>(p: Parser<S>, payload: Buffer): Decoded<Static<S>> {
  const json = parseJson(payload.toString('utf8'));
  if (!json.ok)
    return { ok: false, error: new HomeostatError('ERR_BAD_JSON', 'payload is not valid JSON', json.errors) };
  const parsed = p.parse(json.value);
  if (!parsed.ok) {
    return {
      ok: false,
      error: new HomeostatError('ERR_VALIDATION', 'payload does not match its schema', parsed.errors),
    };
  }
  return { ok: true, value: parsed.value };
}
