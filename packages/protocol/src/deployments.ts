// Deployments: which modules run on which devices. A deployment selects devices by label and
// lists modules; where several select one device, per module name the highest priority wins.
// The hub's deployment controller writes the winners into each device's desired `modules`, and
// the agent reports them back under reported `modules`. The CLI and the hub check manifests
// with the same functions.

import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { isPlainObject } from './merge-patch.js';
import { DesiredModule, MODULE_KINDS, MODULE_STATES, ModuleSpec, type ModuleState, ReportedModule } from './modules.js';
import { parseSelector } from './names.js';
import { type Parsed, parser } from './parse.js';
import { API_VERSION, Labels, Metadata } from './resources.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Modules in one deployment, at most. */
export const MAX_DEPLOYMENT_MODULES = 32;

export const DeploymentSpec = Type.Object(
  {
    selector: Type.String({
      maxLength: 1024,
      description: 'label selector of the devices it targets, e.g. site=paris,model!=m1; empty: every device',
    }),
    priority: Type.Optional(
      Type.Integer({
        minimum: -1_000_000,
        maximum: 1_000_000,
        description: 'per module name, the highest priority wins on a device; a tie goes to the newest; default 0',
      }),
    ),
    modules: Type.Array(ModuleSpec, { minItems: 1, maxItems: MAX_DEPLOYMENT_MODULES }),
  },
  { additionalProperties: false },
);
export type DeploymentSpec = Static<typeof DeploymentSpec>;

/** PUT /deployments/{name}: the whole deployment (apply is declarative). */
export const PutDeploymentRequest = Type.Object(
  { labels: Type.Optional(Labels), spec: DeploymentSpec },
  { additionalProperties: false },
);
export type PutDeploymentRequest = Static<typeof PutDeploymentRequest>;

/**
 * How a deployment's modules stand on one targeted device: every module it won there runs at
 * the desired rev (`applied`), one of them failed (`failing`), not yet (`pending`), or another
 * deployment won every module name (`overridden`).
 */
export const DEPLOYMENT_DEVICE_STATES = ['applied', 'pending', 'failing', 'overridden'] as const;
export type DeploymentDeviceState = (typeof DEPLOYMENT_DEVICE_STATES)[number];

const ReportedBrief = Type.Object({
  rev: Nullable(Type.String()),
  state: Type.Union(MODULE_STATES.map((s) => Type.Literal(s))),
});

export const DeploymentDeviceStatus = Type.Object({
  name: Type.String(),
  state: Type.Union(DEPLOYMENT_DEVICE_STATES.map((s) => Type.Literal(s))),
  /** The modules this deployment won on the device, with what the device reports of each. */
  modules: Type.Array(Type.Object({ name: Type.String(), rev: Type.String(), reported: Nullable(ReportedBrief) })),
});
export type DeploymentDeviceStatus = Static<typeof DeploymentDeviceStatus>;

export const DeploymentStatus = Type.Object({
  /** The generation the controller has written into every targeted device's desired state; 0: none yet. */
  observedGeneration: Type.Integer({ minimum: 0 }),
  /** Devices the selector matches. */
  targeted: Type.Integer({ minimum: 0 }),
  applied: Type.Integer({ minimum: 0 }),
  pending: Type.Integer({ minimum: 0 }),
  failing: Type.Integer({ minimum: 0 }),
  overridden: Type.Integer({ minimum: 0 }),
  /** Per targeted device; only in the answer for one deployment. */
  devices: Type.Optional(Type.Array(DeploymentDeviceStatus)),
});
export type DeploymentStatus = Static<typeof DeploymentStatus>;

export const Deployment = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('Deployment'),
  metadata: Type.Composite([
    Metadata,
    /** Grows by one each time the spec changes (labels do not count). */
    Type.Object({ generation: Type.Integer({ minimum: 1 }) }),
  ]),
  spec: Type.Object({ selector: Type.String(), priority: Type.Integer(), modules: Type.Array(ModuleSpec) }),
  status: DeploymentStatus,
});
export type Deployment = Static<typeof Deployment>;

export const DeploymentList = Type.Object({ items: Type.Array(Deployment) });
export type DeploymentList = Static<typeof DeploymentList>;

/** One module as the dry run shows it: its rev and the deployment it comes from. */
const ModuleRef = Type.Object({ name: Type.String(), rev: Type.String(), deployment: Type.String() });

export const DeviceModuleDiff = Type.Object({
  name: Type.String(),
  /** `start`: the device starts being targeted; `stop`: it stops; `stay`: targeted before and after. */
  targeting: Type.Union([Type.Literal('start'), Type.Literal('stop'), Type.Literal('stay')]),
  added: Type.Array(ModuleRef),
  removed: Type.Array(ModuleRef),
  changed: Type.Array(Type.Object({ name: Type.String(), from: ModuleRef, to: ModuleRef })),
});
export type DeviceModuleDiff = Static<typeof DeviceModuleDiff>;

/** The answer to PUT /deployments/{name}?dryRun=true: what would change, nothing stored. */
export const DeploymentDryRun = Type.Object({
  deployment: Deployment,
  created: Type.Boolean(),
  /** Devices whose modules or targeting would change, by name. */
  devices: Type.Array(DeviceModuleDiff),
});
export type DeploymentDryRun = Static<typeof DeploymentDryRun>;

/** A module of one device: what the hub wants and what the device reports. */
export const MODULE_CONDITIONS = ['applied', 'pending', 'failing', 'removing'] as const;
export type ModuleCondition = (typeof MODULE_CONDITIONS)[number];

export const DeviceModule = Type.Object({
  name: Type.String(),
  kind: Type.Union(MODULE_KINDS.map((k) => Type.Literal(k))),
  /** null: no longer desired, still reported (being removed). */
  deployment: Nullable(Type.String()),
  desiredRev: Nullable(Type.String()),
  reported: Nullable(ReportedModule),
  condition: Type.Union(MODULE_CONDITIONS.map((c) => Type.Literal(c))),
});
export type DeviceModule = Static<typeof DeviceModule>;

export const DeviceModuleList = Type.Object({ device: Type.String(), items: Type.Array(DeviceModule) });
export type DeviceModuleList = Static<typeof DeviceModuleList>;

/** Reported states that mean the module does not do its job. */
export const FAILING_MODULE_STATES: readonly ModuleState[] = ['crash-loop', 'refused', 'stopped', 'unhealthy'];

/**
 * Where a desired module stands given what the device reports: `applied` when it runs at the
 * desired rev, `failing` when the desired rev (or a spec the agent could not even read, rev
 * null) is in a failing state, `pending` otherwise (not reported yet, starting, an older rev).
 */
export function moduleCondition(
  desiredRev: string,
  reported: ReportedModule | null,
): Exclude<ModuleCondition, 'removing'> {
  if (reported === null) return 'pending';
  const current = reported.rev === desiredRev || reported.rev === null;
  if (current && FAILING_MODULE_STATES.includes(reported.state)) return 'failing';
  return reported.rev === desiredRev && reported.state === 'running' ? 'applied' : 'pending';
}

const desiredModule = parser(DesiredModule);
const reportedModule = parser(ReportedModule);

/** The valid entries of a twin's `modules` key; whatever a device wrote that does not parse is left out. */
function entries<T>(
  state: Record<string, unknown>,
  p: { parse(v: unknown): Parsed<T> },
  defaults: Record<string, unknown> = {},
): Map<string, T> {
  const out = new Map<string, T>();
  const modules = state.modules;
  if (!isPlainObject(modules)) return out;
  for (const [name, value] of Object.entries(modules)) {
    const parsed = p.parse(isPlainObject(value) ? { ...defaults, ...value } : value);
    if (parsed.ok) out.set(name, parsed.value);
  }
  return out;
}

export function desiredModules(desiredState: Record<string, unknown>): Map<string, DesiredModule> {
  return entries(desiredState, desiredModule);
}

/**
 * The reported modules. A reported patch is a JSON merge patch, in which `null` deletes a member:
 * `rev: null` and `lastError: null` arrive as absent members, and are read back as null.
 */
export function reportedModules(reportedState: Record<string, unknown>): Map<string, ReportedModule> {
  return entries(reportedState, reportedModule, { rev: null, lastError: null });
}

/** The modules of one device from its twin: desired ones first (by name), then those only reported. */
export function deviceModules(
  desiredState: Record<string, unknown>,
  reportedState: Record<string, unknown>,
): DeviceModule[] {
  const desired = desiredModules(desiredState);
  const reported = reportedModules(reportedState);
  const rows: DeviceModule[] = [...desired.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, d]) => {
      const r = reported.get(name) ?? null;
      return {
        name,
        kind: d.spec.kind,
        deployment: d.deployment,
        desiredRev: d.rev,
        reported: r,
        condition: moduleCondition(d.rev, r),
      };
    });
  for (const [name, r] of [...reported.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (desired.has(name)) continue;
    rows.push({ name, kind: r.kind, deployment: null, desiredRev: null, reported: r, condition: 'removing' });
  }
  return rows;
}

const deploymentSpec = parser(DeploymentSpec);

/**
 * Checks a deployment spec completely: the schema (every problem inside a module's config,
 * precisely), then what a schema cannot say: a selector that parses, module names unique.
 * Problems are `path: message`, paths from the spec (`/modules/0/config/when: …`).
 */
export function parseDeploymentSpec(value: unknown): Parsed<DeploymentSpec> {
  const parsed = deploymentSpec.parse(value);
  if (!parsed.ok) return parsed;
  const errors: string[] = [];
  const selector = parseSelector(parsed.value.selector);
  if ('errors' in selector) errors.push(...selector.errors.map((e) => `/selector: ${e.replace(/^selector: /, '')}`));
  const first = new Map<string, number>();
  parsed.value.modules.forEach((m, i) => {
    const seen = first.get(m.name);
    if (seen === undefined) first.set(m.name, i);
    else errors.push(`/modules/${i}/name: ${m.name} is also the name of /modules/${seen}; module names must be unique`);
  });
  return errors.length > 0 ? { ok: false, errors } : parsed;
}

/** A deployment spec with its defaults filled in, as the hub stores and shows it. */
export function withDefaults(spec: DeploymentSpec): Deployment['spec'] {
  return { selector: spec.selector, priority: spec.priority ?? 0, modules: spec.modules };
}
