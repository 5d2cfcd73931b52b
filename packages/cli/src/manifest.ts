// Manifests for `homeostat apply`: a YAML stream (JSON is YAML too) of Device, EnrollmentGroup,
// Deployment, Policy and Rollout documents. Every document is checked before anything is sent, and every
// problem is reported as `doc N: /path: message`, so one run shows all there is to fix.

import {
  API_VERSION,
  isLabelKey,
  isLabelValue,
  isName,
  isPlainObject,
  LABEL_KEY_PATTERN,
  LABEL_VALUE_PATTERN,
  NAME_PATTERN,
  type PutDeploymentRequest,
  type PutDeviceRequest,
  PutEnrollmentGroupRequest,
  type PutRolloutRequest,
  parseDeploymentSpec,
  parser,
} from '@homeostat/protocol';
import { parseAllDocuments } from 'yaml';
import { checkRollout } from './commands/rollout-manifest.js';
import { checkPolicyDocument, type PolicyItem } from './policy-manifest.js';

export const MANIFEST_KINDS = ['Device', 'EnrollmentGroup', 'Deployment', 'Policy', 'Rollout'] as const;
export type ManifestKind = (typeof MANIFEST_KINDS)[number];

/** One validated document: what to PUT, and where it came from for messages. */
export type ApplyItem =
  | { doc: number; kind: 'Device'; name: string; request: PutDeviceRequest }
  | { doc: number; kind: 'EnrollmentGroup'; name: string; request: PutEnrollmentGroupRequest }
  | { doc: number; kind: 'Deployment'; name: string; request: PutDeploymentRequest }
  | PolicyItem
  | { doc: number; kind: 'Rollout'; name: string; request: PutRolloutRequest };

export type ManifestResult = { ok: true; items: ApplyItem[] } | { ok: false; problems: string[] };

/** Labels per resource, as the protocol's Labels schema allows. */
const MAX_LABELS = 64;

const groupSpec = parser(PutEnrollmentGroupRequest);

/** `kubectl get -o yaml`-style short names for messages: `device/thermo-1`. */
export function refOf(item: { kind: ManifestKind; name: string }): string {
  return `${item.kind.toLowerCase()}/${item.name}`;
}

/** Parses and checks a whole manifest stream; `items` only when every document is valid. */
export function parseManifests(text: string): ManifestResult {
  const problems: string[] = [];
  const items: ApplyItem[] = [];
  const seen = new Map<string, number>();
  const docs = parseAllDocuments(text);
  docs.forEach((doc, index) => {
    const n = index + 1;
    if (doc.errors.length > 0) {
      for (const err of doc.errors) problems.push(`doc ${n}: ${firstLine(err.message)}`);
      return;
    }
    // A document with nothing in it (`---` at the end of a file) is not a mistake.
    if (doc.contents === null) return;
    const checked = checkDocument(doc.toJS(), n);
    problems.push(...checked.problems.map((p) => `doc ${n}: ${p}`));
    if (checked.item === null) return;
    const ref = refOf(checked.item);
    const first = seen.get(ref);
    if (first !== undefined) problems.push(`doc ${n}: /metadata/name: ${ref} is also defined in doc ${first}`);
    else seen.set(ref, n);
    items.push(checked.item);
  });
  if (problems.length === 0 && items.length === 0)
    problems.push(`no documents: expected ${MANIFEST_KINDS.join(', ')} manifests`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, items };
}

function checkDocument(value: unknown, doc: number): { item: ApplyItem | null; problems: string[] } {
  const problems: string[] = [];
  if (!isPlainObject(value)) return { item: null, problems: ['/: must be an object with apiVersion, kind, metadata'] };
  if (value.apiVersion !== API_VERSION) problems.push(`/apiVersion: must be ${JSON.stringify(API_VERSION)}`);
  const kind = MANIFEST_KINDS.find((k) => k === value.kind);
  if (kind === undefined) problems.push(`/kind: must be one of ${MANIFEST_KINDS.join(', ')}`);
  unknownFields(value, '', ['apiVersion', 'kind', 'metadata', 'spec'], problems);

  const metadata = value.metadata;
  let name: string | null = null;
  let labels: Record<string, string> | undefined;
  if (!isPlainObject(metadata)) {
    problems.push('/metadata: must be an object with a name');
  } else {
    unknownFields(metadata, '/metadata', kind === 'EnrollmentGroup' ? ['name'] : ['name', 'labels'], problems);
    if (typeof metadata.name !== 'string' || !isName(metadata.name)) {
      problems.push(`/metadata/name: must match ${NAME_PATTERN}`);
    } else {
      name = metadata.name;
    }
    if (kind !== 'EnrollmentGroup' && metadata.labels !== undefined) labels = checkLabels(metadata.labels, problems);
  }

  const spec = value.spec ?? {};
  if (!isPlainObject(spec)) {
    problems.push('/spec: must be an object');
    return { item: null, problems };
  }
  if (kind === 'Policy') return checkPolicyDocument(spec, name, labels, doc, problems);
  if (kind === 'Device') {
    unknownFields(spec, '/spec', ['desired'], problems);
    if (spec.desired !== undefined && !isPlainObject(spec.desired)) problems.push('/spec/desired: must be an object');
    if (problems.length > 0 || name === null) return { item: null, problems };
    // apply is declarative: a manifest without labels means a device without labels.
    const request: PutDeviceRequest = { labels: labels ?? {} };
    if (isPlainObject(spec.desired)) request.desired = spec.desired;
    return { item: { doc, kind, name, request }, problems };
  }
  if (kind === 'Deployment') {
    // The protocol's own check, which the hub makes too: the schema (every mistake inside a
    // module's config, where it is), the selector, module names unique.
    const parsed = parseDeploymentSpec(spec);
    if (!parsed.ok) problems.push(...parsed.errors.map(specProblem));
    if (problems.length > 0 || name === null || !parsed.ok) return { item: null, problems };
    return { item: { doc, kind, name, request: { labels: labels ?? {}, spec: parsed.value } }, problems };
  }
  if (kind === 'Rollout') return checkRollout(spec, doc, name, labels, problems);
  if (kind === 'EnrollmentGroup') {
    // The two nullable fields are checked here: the schema's own message for them is only
    // "Expected union value".
    const { maxDevices, expiresAt, ...rest } = spec;
    const limits: PutEnrollmentGroupRequest = {};
    if (maxDevices !== undefined) {
      if (maxDevices === null || (Number.isSafeInteger(maxDevices) && (maxDevices as number) >= 1)) {
        limits.maxDevices = maxDevices as number | null;
      } else problems.push('/spec/maxDevices: must be a whole number of at least 1, or null for no limit');
    }
    if (expiresAt !== undefined) {
      // People write dates in YAML; the API takes milliseconds since the epoch.
      const ms = typeof expiresAt === 'string' ? Date.parse(expiresAt) : expiresAt;
      if (ms === null || (Number.isSafeInteger(ms) && (ms as number) >= 0)) limits.expiresAt = ms as number | null;
      else problems.push('/spec/expiresAt: must be an ISO 8601 date, milliseconds since the epoch, or null');
    }
    const parsed = groupSpec.parse(rest);
    if (!parsed.ok) problems.push(...parsed.errors.map(specProblem));
    if (problems.length > 0 || name === null || !parsed.ok) return { item: null, problems };
    return { item: { doc, kind, name, request: { ...parsed.value, ...limits } }, problems };
  }
  return { item: null, problems };
}

function checkLabels(value: unknown, problems: string[]): Record<string, string> | undefined {
  if (!isPlainObject(value)) {
    problems.push('/metadata/labels: must be a map of label keys to string values');
    return undefined;
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_LABELS) problems.push(`/metadata/labels: at most ${MAX_LABELS} labels`);
  const labels: Record<string, string> = {};
  for (const [key, v] of entries) {
    const path = `/metadata/labels/${pointerSegment(key)}`;
    if (!isLabelKey(key)) problems.push(`${path}: invalid label key: must match ${LABEL_KEY_PATTERN}`);
    // YAML turns `revision: 2` and `beta: true` into numbers and booleans; labels are strings.
    if (typeof v !== 'string') problems.push(`${path}: must be a string (quote it: "${String(v)}")`);
    else if (!isLabelValue(v)) problems.push(`${path}: invalid label value: must match ${LABEL_VALUE_PATTERN}`);
    else labels[key] = v;
  }
  return labels;
}

function unknownFields(obj: Record<string, unknown>, at: string, allowed: readonly string[], problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      problems.push(`${at}/${pointerSegment(key)}: unknown field (expected ${allowed.join(', ')})`);
    }
  }
}

/** JSON Pointer escaping (RFC 6901), so a label key like `example.com/tier` stays one segment. */
function pointerSegment(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A schema problem of the spec, with the document path and the wording used for the other checks. */
export function specProblem(problem: string): string {
  const at = problem.startsWith('/:') ? problem.slice(1) : problem;
  return `/spec${at}`.replace(/: Unexpected property$/, ': unknown field');
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '');
}
