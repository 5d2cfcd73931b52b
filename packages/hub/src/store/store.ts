// The store port: everything the hub keeps. One interface, implemented over Kysely for SQLite
// (embedded default) and PostgreSQL (scale-out); `storeContract` is the suite both must pass.

import type {
  AutonomySpec,
  Decision,
  DecisionState,
  Degree,
  EvidenceKind,
  Incident,
  Lifecycle,
  LivenessState,
  ModuleSpec,
  PolicySpec,
  PostMortem,
  Property,
  Role,
} from '@homeostat/protocol';
import type { RolloutStore } from './rollouts.js';

export type * from './rollouts.js';

export interface ApiTokenRecord {
  name: string;
  role: Role;
  tokenHash: string;
  createdAt: number;
}

export interface LivenessRecord {
  state: LivenessState;
  since: number | null;
  evidence: { kind: EvidenceKind; at: number | null; detail: string };
}

export interface DeviceRecord {
  name: string;
  uid: string;
  labels: Record<string, string>;
  tokenHash: string;
  lifecycle: Lifecycle;
  enrollmentGroup: string | null;
  createdAt: number;
  resourceVersion: number;
  desired: { version: number; state: Record<string, unknown>; updatedAt: number | null };
  reported: {
    version: number;
    state: Record<string, unknown>;
    desiredVersion: number | null;
    updatedAt: number | null;
  };
  capabilities: Record<string, unknown>;
  agentVersion: string | null;
  heartbeatMs: number | null;
  lastSeen: number | null;
  liveness: LivenessRecord | null;
  /** A retired device: the one that replaced it. */
  replacedBy: string | null;
}

export interface NewDevice {
  name: string;
  uid: string;
  labels: Record<string, string>;
  tokenHash: string;
  enrollmentGroup: string | null;
  desired: Record<string, unknown>;
  createdAt: number;
}

/** One reading of a device: its seq, its time and its metric values. Stored once per (device, seq). */
export interface Reading {
  device: string;
  seq: number;
  ts: number;
  metrics: Record<string, number>;
}

/** One value of one metric, as a query by metric returns it. */
export interface Point {
  seq: number;
  ts: number;
  value: number;
}

/** What a telemetry write did. */
export interface InsertOutcome {
  /** Readings stored by this write. */
  inserted: number;
  /**
   * The readings not stored because their (device, seq) was stored already (earlier, or earlier
   * in the same write): their position in the input and the reading as stored. Usually empty.
   */
  existing: { index: number; stored: Reading }[];
}

/** Resolutions of the rollups kept as readings arrive, in ms: one minute and one hour. */
export const ROLLUP_RESOLUTIONS = [60_000, 3_600_000] as const;

/** The rollup resolution a query of this step reads (the coarsest not above it); none: raw readings. */
export function rollupFor(stepMs: number): number | undefined {
  return [...ROLLUP_RESOLUTIONS].reverse().find((r) => r <= stepMs);
}

/** One bucket of a downsampled series. */
export interface Bucket {
  /** Start of the bucket, ms since the epoch. */
  ts: number;
  count: number;
  min: number;
  max: number;
  avg: number;
  last: number;
}

/** How long each kind of telemetry is kept, in ms. */
export interface Retention {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
}

export interface EventRow {
  ts: number;
  device: string | null;
  /** A device event's seq (stored once per device and seq); null for the hub's own events. */
  seq: number | null;
  source: 'hub' | 'device';
  type: string;
  code: string | null;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  data: Record<string, unknown>;
}

export interface StoredEvent extends EventRow {
  id: number;
}

export interface EventQuery {
  device?: string;
  type?: string;
  /** Page forward: the first `limit` events with a larger id. Without it: the newest `limit`. */
  after?: number;
  limit: number;
}

export interface EnrollmentGroupRecord {
  name: string;
  uid: string;
  claimHash: string;
  template: { labels?: Record<string, string>; desired?: Record<string, unknown> };
  namePrefix: string;
  maxDevices: number | null;
  expiresAt: number | null;
  enrolled: number;
  createdAt: number;
  resourceVersion: number;
}

export interface DeploymentRecord {
  name: string;
  uid: string;
  labels: Record<string, string>;
  selector: string;
  priority: number;
  modules: ModuleSpec[];
  createdAt: number;
  resourceVersion: number;
  /** Grows by one with each change of the spec (selector, priority, modules). */
  generation: number;
  /** The generation the deployment controller has written into every device it targets. */
  observedGeneration: number;
}

export type DeploymentFields = Pick<DeploymentRecord, 'labels' | 'selector' | 'priority' | 'modules' | 'generation'>;

export type DeploymentUpdate =
  | { ok: true; deployment: DeploymentRecord }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'conflict'; current: number };

export type DesiredUpdate =
  | { ok: true; device: DeviceRecord }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'conflict'; current: number };

export type ReportedUpdate = { ok: true } | { ok: false; reason: 'not-found' | 'stale'; current?: number };

export type ClaimOutcome =
  | { ok: true; device: DeviceRecord }
  | { ok: false; reason: 'group-not-found' | 'exhausted' | 'name-taken' };

export interface StatusUpdate {
  capabilities?: Record<string, unknown>;
  agentVersion?: string | null;
  heartbeatMs?: number | null;
  /** Moves a provisioned device to active on its first connection. */
  activate?: boolean;
}

export interface Store extends RolloutStore {
  migrate(): Promise<void>;
  /** A cheap round trip, for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;

  createApiToken(token: ApiTokenRecord): Promise<boolean>;
  findApiTokenByHash(hash: string): Promise<ApiTokenRecord | undefined>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
  deleteApiToken(name: string): Promise<boolean>;
  countApiTokens(): Promise<number>;

  /** False when the name is taken. */
  createDevice(device: NewDevice): Promise<boolean>;
  getDevice(name: string): Promise<DeviceRecord | undefined>;
  countDevices(): Promise<number>;
  listDevices(): Promise<DeviceRecord[]>;
  updateDeviceLabels(name: string, labels: Record<string, string>): Promise<DeviceRecord | undefined>;
  setDeviceTokenHash(name: string, tokenHash: string): Promise<boolean>;
  deleteDevice(name: string): Promise<boolean>;
  /** Sets the desired state if its version is still `expectedVersion`; the version then grows by one. */
  replaceDesired(
    name: string,
    expectedVersion: number,
    state: Record<string, unknown>,
    now: number,
  ): Promise<DesiredUpdate>;
  /**
   * Applies a reported patch whose version is above the stored one; with `replace`, the state is
   * the whole reported state and the applied desired version is taken as given (null: none).
   */
  applyReported(
    name: string,
    version: number,
    state: Record<string, unknown>,
    desiredVersion: number | null,
    now: number,
    replace?: boolean,
  ): Promise<ReportedUpdate>;
  updateDeviceStatus(name: string, update: StatusUpdate): Promise<void>;
  /** Persists liveness transitions and last-seen times in one batch. */
  saveLiveness(entries: { name: string; lastSeen: number | null; liveness: LivenessRecord }[]): Promise<void>;

  /**
   * Stores readings in one transaction; a reading whose (device, seq) is stored already (or comes
   * earlier in `readings`) is not stored again and is reported with the stored one instead.
   */
  insertReadings(readings: readonly Reading[]): Promise<InsertOutcome>;
  /** The newest `limit` values of a metric in [from, to], oldest first. */
  queryReadings(device: string, metric: string, from: number, to: number, limit: number): Promise<Point[]>;
  /**
   * One metric of some devices downsampled to `stepMs` buckets over [from, to]: from the raw
   * readings when the step is under a minute, else from the coarsest rollup not above the step.
   * Several devices are merged into one series (count-weighted average).
   */
  queryBuckets(devices: readonly string[], metric: string, from: number, to: number, stepMs: number): Promise<Bucket[]>;
  /** Bytes the store's content takes (not the pages it freed and keeps for reuse). */
  sizeBytes(): Promise<number>;
  /**
   * Deletes telemetry older than its retention, at most `limit` rows of each kind (blocks of raw
   * readings, rollups of each resolution); returns how many readings and rollup rows it deleted.
   */
  pruneTelemetry(now: number, retention: Retention, limit: number): Promise<number>;

  /** Stores events; a device event whose (device, seq) is stored already is ignored. Returns the new ids. */
  insertEvents(rows: readonly EventRow[]): Promise<number[]>;
  listEvents(query: EventQuery): Promise<StoredEvent[]>;

  createEnrollmentGroup(group: EnrollmentGroupRecord): Promise<boolean>;
  getEnrollmentGroup(name: string): Promise<EnrollmentGroupRecord | undefined>;
  findEnrollmentGroupByClaimHash(hash: string): Promise<EnrollmentGroupRecord | undefined>;
  listEnrollmentGroups(): Promise<EnrollmentGroupRecord[]>;
  updateEnrollmentGroup(
    name: string,
    update: Pick<EnrollmentGroupRecord, 'template' | 'namePrefix' | 'maxDevices' | 'expiresAt'>,
  ): Promise<EnrollmentGroupRecord | undefined>;
  deleteEnrollmentGroup(name: string): Promise<boolean>;
  /** Creates the device and counts it against the group, atomically, within the group's limit. */
  claimDevice(groupName: string, device: NewDevice): Promise<ClaimOutcome>;

  /** False when the name is taken. */
  createDeployment(deployment: DeploymentRecord): Promise<boolean>;
  getDeployment(name: string): Promise<DeploymentRecord | undefined>;
  /** In name order. */
  listDeployments(): Promise<DeploymentRecord[]>;
  /** Replaces the fields if the resource version is still `expectedResourceVersion`; it then grows by one. */
  updateDeployment(name: string, expectedResourceVersion: number, fields: DeploymentFields): Promise<DeploymentUpdate>;
  /** Raises the observed generation to `generation` (never lowers it, never above the generation). */
  observeDeployment(name: string, generation: number): Promise<void>;
  deleteDeployment(name: string): Promise<boolean>;
  /** Sets the lifecycle (quarantine, back to active); false when there is no such device. */
  setDeviceLifecycle(name: string, lifecycle: Lifecycle): Promise<boolean>;
  /** Retires a device at once: lifecycle retired, a token hash nobody holds, labels cleared, its replacement named. */
  retireDevice(name: string, tokenHash: string, replacedBy: string | null): Promise<boolean>;

  // The autonomic manager's knowledge (store/autonomic.ts).
  /** Creates or replaces; true when created. */
  putPolicy(policy: PolicyRecord): Promise<boolean>;
  getPolicy(name: string): Promise<PolicyRecord | undefined>;
  /** In name order. */
  listPolicies(): Promise<PolicyRecord[]>;
  deletePolicy(name: string): Promise<boolean>;
  /** Creates or replaces the decision under its id. */
  saveDecision(decision: Decision): Promise<void>;
  getDecision(id: string): Promise<Decision | undefined>;
  /** The newest first. */
  listDecisions(query: DecisionQuery): Promise<Decision[]>;
  /** How many decisions per property, degree and state. */
  countDecisions(): Promise<DecisionCount[]>;
  saveIncident(incident: Incident): Promise<void>;
  getIncident(id: string): Promise<Incident | undefined>;
  /** The newest first. */
  listIncidents(query: IncidentQuery): Promise<Incident[]>;
  getAutonomy(): Promise<AutonomySpec | undefined>;
  putAutonomy(spec: AutonomySpec, now: number): Promise<void>;
  /** Creates or replaces the hand-over under its id. */
  saveHandOver(handOver: HandOverRecord): Promise<void>;
  /** Oldest first. */
  listHandOvers(query: HandOverQuery): Promise<HandOverRecord[]>;
  savePostMortem(postMortem: PostMortem): Promise<void>;
  getPostMortem(incident: string): Promise<PostMortem | undefined>;
}

/**
 * A change the loop made to another device's desired state because a device was silent (a
 * hand-over, or a patch of a peer): what it set and what was there before, to hand it back.
 */
export interface HandOverRecord {
  /** `{decision}-{action index}`. */
  id: string;
  decision: string;
  policy: string;
  /** The device whose duties these are (the silent one). */
  from: string;
  /** The device holding them. */
  to: string;
  /** What was written: key -> value. */
  set: Record<string, unknown>;
  /** What was there before: key -> value, null where the key was absent. */
  before: Record<string, unknown>;
  state: 'active' | 'returned';
  createdAt: number;
  /** The hand-back decision, once one was made (whatever its outcome: it is not tried twice). */
  returning: string | null;
  returnedAt: number | null;
}

export interface HandOverQuery {
  state?: HandOverRecord['state'];
  /** Held by or for this device. */
  device?: string;
}

export interface PolicyRecord {
  name: string;
  uid: string;
  labels: Record<string, string>;
  spec: PolicySpec;
  createdAt: number;
  resourceVersion: number;
}

export interface DecisionQuery {
  device?: string | undefined;
  policy?: string | undefined;
  states?: readonly DecisionState[] | undefined;
  limit: number;
}

export interface DecisionCount {
  property: Property;
  degree: Degree;
  state: DecisionState;
  count: number;
}

export interface IncidentQuery {
  device?: string | undefined;
  state?: Incident['state'] | undefined;
  limit: number;
}
