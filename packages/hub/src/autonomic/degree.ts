// How far the loop may go on its own for one decision, pure: the operator's autonomy rules,
// the most specific scope first (device, then site, then fleet; a rule naming the property
// before one that does not), else the default: destructive actions wait for approval, safe
// ones act.

import {
  type ActionKind,
  type AutonomySpec,
  DESTRUCTIVE_ACTIONS,
  type Degree,
  type Property,
  SITE_LABEL,
} from '@homeostat/protocol';

/** When nobody answers an approval: reject after 15 minutes. */
export const DEFAULT_APPROVAL = { deadlineMs: 15 * 60_000, default: 'reject' as 'approve' | 'reject' };

export interface DegreeChoice {
  degree: Degree;
  /** Why, for the record: the rule that decided, or the default. */
  source: string;
}

export function chooseDegree(
  spec: AutonomySpec | undefined,
  property: Property,
  device: { name: string; labels: Record<string, string> } | null,
  actions: readonly ActionKind[],
): DegreeChoice {
  const site = device?.labels[SITE_LABEL];
  const scopes: { match: (s: AutonomySpec['rules'][number]['scope']) => boolean; name: string }[] = [
    {
      match: (s) => typeof s === 'object' && 'device' in s && s.device === device?.name,
      name: `device ${device?.name}`,
    },
    {
      match: (s) => typeof s === 'object' && 'site' in s && site !== undefined && s.site === site,
      name: `site ${site}`,
    },
    { match: (s) => s === 'fleet', name: 'fleet' },
  ];
  for (const scope of scopes) {
    const rules = (spec?.rules ?? []).filter((r) => scope.match(r.scope));
    const rule = rules.find((r) => r.property === property) ?? rules.find((r) => r.property === undefined);
    if (rule) {
      return { degree: rule.degree, source: `autonomy rule for ${scope.name}${rule.property ? `, ${property}` : ''}` };
    }
  }
  const destructive = actions.filter((a) => DESTRUCTIVE_ACTIONS.includes(a));
  if (destructive.length > 0) {
    return { degree: 'approve', source: `default for destructive actions (${[...new Set(destructive)].join(', ')})` };
  }
  return { degree: 'act', source: 'default for safe actions' };
}

/** The fleet-wide degree of each property for a plan of safe actions: what `homeostat autonomy` shows. */
export function fleetDegree(spec: AutonomySpec | undefined, property: Property): DegreeChoice {
  return chooseDegree(spec, property, null, []);
}

export function approvalOf(spec: AutonomySpec | undefined): { deadlineMs: number; default: 'approve' | 'reject' } {
  return {
    deadlineMs: spec?.approval?.deadlineMs ?? DEFAULT_APPROVAL.deadlineMs,
    default: spec?.approval?.default ?? DEFAULT_APPROVAL.default,
  };
}
