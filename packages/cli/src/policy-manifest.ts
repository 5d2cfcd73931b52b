// `kind: Policy` in a manifest for `homeostat apply`: the spec checked with the protocol's own
// parser (the hub checks it again, with what only it knows: other policies, the fleet's devices).

import { PolicySpec, type PutPolicyRequest, parser } from '@homeostat/protocol';

const policySpec = parser(PolicySpec);

export interface PolicyItem {
  doc: number;
  kind: 'Policy';
  name: string;
  request: PutPolicyRequest;
}

/** The apply item of a Policy document, or the problems of its spec as `/spec/path: message`. */
export function checkPolicyDocument(
  spec: Record<string, unknown>,
  name: string | null,
  labels: Record<string, string> | undefined,
  doc: number,
  problems: string[],
): { item: PolicyItem | null; problems: string[] } {
  const parsed = policySpec.parse(spec);
  if (!parsed.ok) {
    problems.push(
      ...parsed.errors.map((e) =>
        `/spec${e.startsWith('/:') ? e.slice(1) : e}`.replace(/: Unexpected property$/, ': unknown field'),
      ),
    );
  }
  if (problems.length > 0 || name === null || !parsed.ok) return { item: null, problems };
  return { item: { doc, kind: 'Policy', name, request: { labels: labels ?? {}, spec: parsed.value } }, problems };
}
