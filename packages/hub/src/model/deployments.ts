// Pure rules of deployments: layering (which deployment's module wins on a device), the rev of
// a module spec, the difference between two module sets (the dry run), and how a deployment
// stands across the devices it targets. No I/O: the controller and the service call these.

import { createHash } from 'node:crypto';
import {
  type DeploymentDeviceStatus,
  type DeploymentStatus,
  type DesiredModule,
  type DeviceModuleDiff,
  isPlainObject,
  jsonEqual,
  type LabelMap,
  type ModuleSpec,
  matchesSelector,
  moduleCondition,
  parseSelector,
  reportedModules,
  type SelectorTerm,
} from '@homeostat/protocol';
import type { DeploymentRecord, DeviceRecord } from '../store/store.js';

/** The desired `modules` of a device: module name → what to run and where it comes from. */
export type ModuleSet = Record<string, DesiredModule>;

/** A deployment ready for layering: its selector parsed and its modules' revs computed once. */
export interface Layer {
  name: string;
  priority: number;
  createdAt: number;
  terms: readonly SelectorTerm[];
  modules: readonly { spec: ModuleSpec; rev: string }[];
}

/** JSON with object keys sorted at every level: equal specs give equal text, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A module's rev: the first 16 hex digits of the SHA-256 of its spec's canonical JSON. */
export function moduleRev(spec: ModuleSpec): string {
  return createHash('sha256').update(canonicalJson(spec), 'utf8').digest('hex').slice(0, 16);
}

/**
 * Deployments in the order they claim module names: the highest priority first, then the newest
 * (a tie goes to the newest), then by name so that the order is total.
 */
export function layersOf(deployments: readonly DeploymentRecord[]): Layer[] {
  return deployments
    .map((d) => {
      const parsed = parseSelector(d.selector);
      // Stored selectors were checked at apply time; one that no longer parses targets nothing.
      const terms: SelectorTerm[] = 'terms' in parsed ? parsed.terms : [{ op: 'exists', key: '' }];
      return {
        name: d.name,
        priority: d.priority,
        createdAt: d.createdAt,
        terms,
        modules: d.modules.map((spec) => ({ spec, rev: moduleRev(spec) })),
      };
    })
    .sort((a, b) => b.priority - a.priority || b.createdAt - a.createdAt || a.name.localeCompare(b.name));
}

export function targets(layer: Layer, labels: LabelMap): boolean {
  return matchesSelector(labels, layer.terms);
}

/** The modules a device with these labels should run: per name, the first layer that has it. */
export function modulesFor(labels: LabelMap, layers: readonly Layer[]): ModuleSet {
  const set: ModuleSet = {};
  for (const layer of layers) {
    if (!targets(layer, labels)) continue;
    for (const { spec, rev } of layer.modules) {
      if (!Object.hasOwn(set, spec.name)) set[spec.name] = { rev, deployment: layer.name, spec };
    }
  }
  return sortedSet(set);
}

/** Keys in name order, so that the stored and published desired state reads the same every time. */
function sortedSet(set: ModuleSet): ModuleSet {
  return Object.fromEntries(Object.entries(set).sort(([a], [b]) => a.localeCompare(b)));
}

/** The `modules` value to store: the set, or undefined (the key removed) when it is empty. */
export function desiredValue(set: ModuleSet): ModuleSet | undefined {
  return Object.keys(set).length === 0 ? undefined : set;
}

/** True when the stored desired `modules` already says what `set` says. */
export function sameModules(stored: unknown, set: ModuleSet): boolean {
  return jsonEqual(stored ?? undefined, desiredValue(set));
}

const ref = (name: string, m: DesiredModule) => ({ name, rev: m.rev, deployment: m.deployment });

/**
 * What changes on one device between two module sets, and whether the deployment under change
 * starts or stops targeting it; null when nothing does.
 */
export function diffModules(
  device: string,
  before: ModuleSet,
  after: ModuleSet,
  targeted: { before: boolean; after: boolean },
): DeviceModuleDiff | null {
  const diff: DeviceModuleDiff = {
    name: device,
    targeting: targeted.before === targeted.after ? 'stay' : targeted.after ? 'start' : 'stop',
    added: [],
    removed: [],
    changed: [],
  };
  for (const [name, m] of Object.entries(after)) {
    const old = before[name];
    if (old === undefined) diff.added.push(ref(name, m));
    else if (old.rev !== m.rev || old.deployment !== m.deployment) {
      diff.changed.push({ name, from: ref(name, old), to: ref(name, m) });
    }
  }
  for (const [name, m] of Object.entries(before)) if (!Object.hasOwn(after, name)) diff.removed.push(ref(name, m));
  const nothing = diff.added.length + diff.removed.length + diff.changed.length === 0;
  return nothing && diff.targeting === 'stay' ? null : diff;
}

/** How one deployment stands on one device it targets, from the winners and the device's report. */
export function deviceStatus(deployment: string, set: ModuleSet, device: DeviceRecord): DeploymentDeviceStatus {
  const reported = reportedModules(device.reported.state);
  const won = Object.entries(set)
    .filter(([, m]) => m.deployment === deployment)
    .map(([name, m]) => ({ name, rev: m.rev, report: reported.get(name) ?? null }));
  const conditions = won.map((m) => moduleCondition(m.rev, m.report));
  const state =
    won.length === 0
      ? 'overridden'
      : conditions.includes('failing')
        ? 'failing'
        : conditions.every((c) => c === 'applied')
          ? 'applied'
          : 'pending';
  const modules = won.map(({ name, rev, report }) => ({
    name,
    rev,
    reported: report && { rev: report.rev, state: report.state },
  }));
  return { name: device.name, state, modules };
}

/** A deployment's status across the fleet: counts, and per device when asked for. */
export function deploymentStatus(
  deployment: DeploymentRecord,
  layers: readonly Layer[],
  devices: readonly DeviceRecord[],
  perDevice: boolean,
): DeploymentStatus {
  const layer = layers.find((l) => l.name === deployment.name);
  const rows = devices
    .filter((d) => layer !== undefined && targets(layer, d.labels))
    .map((d) => deviceStatus(deployment.name, modulesFor(d.labels, layers), d));
  const count = (state: DeploymentDeviceStatus['state']) => rows.filter((r) => r.state === state).length;
  return {
    observedGeneration: deployment.observedGeneration,
    targeted: rows.length,
    applied: count('applied'),
    pending: count('pending'),
    failing: count('failing'),
    overridden: count('overridden'),
    ...(perDevice ? { devices: rows } : {}),
  };
}

/**
 * The set with the rollbacks a device's stored modules hold kept in: a module rolled back on the
 * device (`rolledBack.from` the rev its deployments name) stays at its earlier version while they
 * still name that rev; once they name another (a fix) or drop the module, the rollback lapses.
 */
export function keepRollbacks(set: ModuleSet, stored: unknown): ModuleSet {
  if (!isPlainObject(stored)) return set;
  let out = set;
  for (const [name, m] of Object.entries(stored)) {
    const held = m as DesiredModule;
    if (!isPlainObject(held) || !isPlainObject(held.rolledBack)) continue;
    if (set[name]?.rev !== held.rolledBack.from) continue;
    out = { ...out, [name]: held };
  }
  return out;
}

/** One module's change on a device: what it ran before (the whole entry), what it runs now. */
export interface ModuleChange {
  module: string;
  from: DesiredModule | null;
  to: { rev: string; deployment: string } | null;
}

/** What changes between two module sets of one device, module by module, in name order. */
export function moduleChanges(before: unknown, after: ModuleSet): ModuleChange[] {
  const old: Record<string, DesiredModule> = isPlainObject(before) ? (before as Record<string, DesiredModule>) : {};
  const names = [...new Set([...Object.keys(old), ...Object.keys(after)])].sort();
  const changes: ModuleChange[] = [];
  for (const module of names) {
    const from = old[module] ?? null;
    const to = after[module] ?? null;
    if (from?.rev === to?.rev && from?.deployment === to?.deployment) continue;
    changes.push({ module, from, to: to && { rev: to.rev, deployment: to.deployment } });
  }
  return changes;
}
