// `kind: Rollout` documents for `homeostat apply`: checked with the protocol's own function (the
// one the hub uses), every problem with its path, before anything is sent.

import { type PutRolloutRequest, parseRolloutSpec } from '@homeostat/protocol';
import { specProblem } from '../manifest.js';

export function checkRollout(
  spec: Record<string, unknown>,
  doc: number,
  name: string | null,
  labels: Record<string, string> | undefined,
  problems: string[],
): { item: { doc: number; kind: 'Rollout'; name: string; request: PutRolloutRequest } | null; problems: string[] } {
  const parsed = parseRolloutSpec(spec);
  if (!parsed.ok) problems.push(...parsed.errors.map(specProblem));
  if (problems.length > 0 || name === null || !parsed.ok) return { item: null, problems };
  return { item: { doc, kind: 'Rollout', name, request: { labels: labels ?? {}, spec: parsed.value } }, problems };
}
