// JSON given on the command line (`--json`, `--desired`): must be an object; errors name the flag.

import { isPlainObject, parseJson } from '@homeostat/protocol';
import { UsageError } from './errors.js';

export function parseJsonObject(flag: string, text: string): Record<string, unknown> {
  const parsed = parseJson(text);
  if (!parsed.ok) throw new UsageError(`invalid ${flag}: not JSON`, parsed.errors);
  if (!isPlainObject(parsed.value)) throw new UsageError(`invalid ${flag}: expected a JSON object such as {"key": 1}`);
  return parsed.value;
}
