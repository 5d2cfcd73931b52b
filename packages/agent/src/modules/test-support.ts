// Fixtures for the module tests (not exported from the package): a supervisor whose events,
// reports, actuations and upstream samples are recorded, and desired entries built from specs.

import { type Clock, silentLogger } from '@homeostat/kit';
import type { DesiredModule, ModuleSpec, ReportedModule } from '@homeostat/protocol';
import { waitFor } from '@homeostat/testing';
import type { RaiseEventInput } from '../agent.js';
import type { Sample } from './module.js';
import { StreamStore } from './streams.js';
import { type AnyModuleKind, ModuleSupervisor } from './supervisor.js';

export function supervisorFixture(kinds: AnyModuleKind[], clock: Clock, dataDir: string | null = null) {
  const events: RaiseEventInput[] = [];
  const reports: Record<string, ReportedModule>[] = [];
  const actuated: [string, unknown][] = [];
  const upstream: Sample[] = [];
  const streams = new StreamStore();
  const supervisor = new ModuleSupervisor({
    kinds,
    streams,
    clock,
    logger: silentLogger(),
    dataDir,
    actuate: (a, v) => actuated.push([a, v]),
    raise: (e) => events.push(e),
    upstream: (s) => upstream.push(s),
    report: (m) => reports.push(m),
  });
  /** Resolves once `name` is in `state` (real time, bounded). */
  const until = (name: string, state: ReportedModule['state'], timeoutMs = 10_000) =>
    waitFor(() => supervisor.get(name)?.state === state, { message: `${name} ${state}`, timeoutMs });
  return { supervisor, events, reports, actuated, upstream, streams, until };
}

/** `modules` of a desired state holding one module. */
export function desiredModule(spec: ModuleSpec, rev = 'aaaaaaaa'): Record<string, DesiredModule> {
  return { [spec.name]: { rev, deployment: 'edge', spec } };
}
