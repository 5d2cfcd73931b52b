// The module planner: a pure function from the modules the supervisor holds to the modules the
// desired state names, returning the steps that close the gap, as data. The supervisor's table of
// executors carries them out; tests assert on the plans.
//
// A module is identified by its name (its key under desired `modules`) and its version by `rev`,
// the digest the hub computed of its spec: the same rev is the same module, whatever state it is
// in (running, backing off, refused, stopped after a crash), so planning twice changes nothing.

import { DesiredModule, MODULE_KINDS, type ModuleKind, parser } from '@homeostat/protocol';

/** What the supervisor holds under one name. */
export interface CurrentModule {
  /** The rev it was planned from; for an entry that could not be parsed, its JSON text. */
  fingerprint: string;
}

export type Step =
  /** Not held yet: start it. */
  | { op: 'start'; name: string; module: DesiredModule }
  /** Held under another rev: stop it, start the new one. */
  | { op: 'restart'; name: string; module: DesiredModule }
  /** No longer desired. */
  | { op: 'stop'; name: string }
  /** Cannot run: invalid, or filed under another name than its own. Whatever ran under the name stops. */
  | { op: 'refuse'; name: string; fingerprint: string; rev: string | null; kind: ModuleKind | null; reason: string };

const parseModule = parser(DesiredModule);

/** Order of execution: what frees resources first, then what takes them. */
const ORDER: Record<Step['op'], number> = { stop: 0, refuse: 1, restart: 2, start: 3 };

export function planModules(
  running: ReadonlyMap<string, CurrentModule>,
  desired: Readonly<Record<string, unknown>>,
): Step[] {
  const steps: Step[] = [];
  for (const name of running.keys()) {
    if (!(name in desired)) steps.push({ op: 'stop', name });
  }
  for (const [name, entry] of Object.entries(desired)) {
    const current = running.get(name);
    const target = resolve(name, entry);
    if (current?.fingerprint === target.fingerprint) continue;
    if ('reason' in target) steps.push({ op: 'refuse', name, ...target });
    else if (current === undefined) steps.push({ op: 'start', name, module: target.module });
    else steps.push({ op: 'restart', name, module: target.module });
  }
  return steps.sort((a, b) => ORDER[a.op] - ORDER[b.op] || a.name.localeCompare(b.name));
}

type Resolved =
  | { fingerprint: string; module: DesiredModule }
  | { fingerprint: string; rev: string | null; kind: ModuleKind | null; reason: string };

function resolve(name: string, entry: unknown): Resolved {
  const parsed = parseModule.parse(entry);
  if (parsed.ok && parsed.value.spec.name === name) return { fingerprint: parsed.value.rev, module: parsed.value };
  const loose = (entry ?? {}) as { rev?: unknown; spec?: { kind?: unknown; name?: unknown } };
  const rev = typeof loose.rev === 'string' ? loose.rev : null;
  const kind = MODULE_KINDS.find((k) => k === loose.spec?.kind) ?? null;
  const reason = parsed.ok
    ? `the spec is named ${JSON.stringify(parsed.value.spec.name)} but filed under ${JSON.stringify(name)}`
    : `invalid module: ${parsed.errors.join('; ')}`;
  return { fingerprint: JSON.stringify(entry) ?? 'undefined', rev, kind, reason };
}
