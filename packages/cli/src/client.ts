// A small typed client for the hub's HTTP API (/api/v1). Every answer is checked against the
// schema in @homeostat/protocol before a command sees it: a hub that drifts from the contract
// gives a clear "unexpected response" instead of a crash deep in a table formatter.

import {
  type ApiToken,
  ApiTokenCredentials,
  ApiTokenList,
  type Artifact,
  ArtifactList,
  Artifact as ArtifactSchema,
  AutonomySettings,
  BlobInfo,
  type CreateApiTokenRequest,
  type CreateDeviceRequest,
  Decision,
  DecisionList,
  type DecisionsQuery,
  Deployment,
  DeploymentDryRun,
  DeploymentList,
  Device,
  DeviceCredentials,
  DeviceList,
  DeviceModuleList,
  EnrollmentGroup,
  EnrollmentGroupCredentials,
  EnrollmentGroupList,
  type EventsQuery,
  type HubEvent,
  HubEventList,
  Incident,
  IncidentList,
  type IncidentsQuery,
  type Parsed,
  type PatchDesiredRequest,
  Policy,
  PostMortem,
  type PutDeploymentRequest,
  type PutDeviceRequest,
  type PutEnrollmentGroupRequest,
  type PutPolicyRequest,
  type PutRolloutRequest,
  parser,
  ReplaceDeviceResponse,
  Rollout,
  RolloutDryRun,
  RolloutHistory,
  RolloutList,
  routes,
  type SignedManifest,
  type TelemetryQuery,
  TelemetrySeries,
  WhoAmI,
} from '@homeostat/protocol';
import { ApiError, CliError, UnreachableError } from './errors.js';
import type { CliIo } from './io.js';

/** Anything that turns `unknown` into a checked value, like the protocol's compiled parsers. */
interface Decoder<T> {
  parse(value: unknown): Parsed<T>;
}

// Compiled once per process; they hold no state.
const decode = {
  device: parser(Device) as Decoder<Device>,
  deviceList: parser(DeviceList) as Decoder<{ items: Device[] }>,
  deviceCredentials: parser(DeviceCredentials) as Decoder<DeviceCredentials>,
  deviceModules: parser(DeviceModuleList) as Decoder<DeviceModuleList>,
  deployment: parser(Deployment) as Decoder<Deployment>,
  deploymentList: parser(DeploymentList) as Decoder<{ items: Deployment[] }>,
  deploymentDryRun: parser(DeploymentDryRun) as Decoder<DeploymentDryRun>,
  group: parser(EnrollmentGroup) as Decoder<EnrollmentGroup>,
  groupList: parser(EnrollmentGroupList) as Decoder<{ items: EnrollmentGroup[] }>,
  groupCredentials: parser(EnrollmentGroupCredentials) as Decoder<EnrollmentGroupCredentials>,
  events: parser(HubEventList) as Decoder<{ items: HubEvent[] }>,
  telemetry: parser(TelemetrySeries) as Decoder<TelemetrySeries>,
  tokenList: parser(ApiTokenList) as Decoder<{ items: ApiToken[] }>,
  tokenCredentials: parser(ApiTokenCredentials) as Decoder<ApiTokenCredentials>,
  whoami: parser(WhoAmI) as Decoder<WhoAmI>,
  artifact: parser(ArtifactSchema) as Decoder<Artifact>,
  artifactList: parser(ArtifactList) as Decoder<{ items: Artifact[] }>,
  blob: parser(BlobInfo) as Decoder<BlobInfo>,
  decision: parser(Decision) as Decoder<Decision>,
  decisionList: parser(DecisionList) as Decoder<{ items: Decision[] }>,
  policy: parser(Policy) as Decoder<Policy>,
  incidentList: parser(IncidentList) as Decoder<IncidentList>,
  incident: parser(Incident) as Decoder<Incident>,
  postMortem: parser(PostMortem) as Decoder<PostMortem>,
  replace: parser(ReplaceDeviceResponse) as Decoder<ReplaceDeviceResponse>,
  autonomy: parser(AutonomySettings) as Decoder<AutonomySettings>,
  rollout: parser(Rollout) as Decoder<Rollout>,
  rolloutList: parser(RolloutList) as Decoder<{ items: Rollout[] }>,
  rolloutDryRun: parser(RolloutDryRun) as Decoder<RolloutDryRun>,
  rolloutHistory: parser(RolloutHistory) as Decoder<RolloutHistory>,
};

/** Uploads get longer: a firmware image over a slow link. */
const UPLOAD_TIMEOUT_MS = 30 * 60_000;

/** How long one request may take before the hub counts as unreachable, in milliseconds. */
const REQUEST_TIMEOUT_MS = 30_000;

type Query = Record<string, string | number | undefined>;

interface Answer {
  status: number;
  body: unknown;
}

/** PUT answers 201 with credentials when it created the resource and 200 when it updated it. */
export type PutDeviceResult = { created: true; device: Device; token: string } | { created: false; device: Device };
export type PutGroupResult =
  | { created: true; group: EnrollmentGroup; claimToken: string }
  | { created: false; group: EnrollmentGroup };

export class HubClient {
  readonly server: string;
  readonly #token: string;
  readonly #io: CliIo;

  constructor(io: CliIo, server: string, token: string) {
    this.#io = io;
    this.server = server;
    this.#token = token;
  }

  async whoami(): Promise<WhoAmI> {
    return this.#get(routes.whoami, decode.whoami);
  }

  async listDevices(selector?: string): Promise<Device[]> {
    return (await this.#get(routes.devices, decode.deviceList, { selector })).items;
  }

  async getDevice(name: string): Promise<Device> {
    return this.#get(routes.device(name), decode.device);
  }

  async createDevice(request: CreateDeviceRequest): Promise<DeviceCredentials> {
    const answer = await this.#send('POST', routes.devices, request);
    return this.#check('POST', routes.devices, decode.deviceCredentials, answer.body);
  }

  async putDevice(name: string, request: PutDeviceRequest): Promise<PutDeviceResult> {
    const path = routes.device(name);
    const answer = await this.#send('PUT', path, request);
    if (answer.status === 201)
      return { created: true, ...this.#check('PUT', path, decode.deviceCredentials, answer.body) };
    return { created: false, device: this.#check('PUT', path, decode.device, answer.body) };
  }

  async deleteDevice(name: string): Promise<void> {
    await this.#send('DELETE', routes.device(name));
  }

  async patchDesired(name: string, request: PatchDesiredRequest): Promise<Device> {
    const path = routes.deviceDesired(name);
    return this.#check('PATCH', path, decode.device, (await this.#send('PATCH', path, request)).body);
  }

  async rotateDeviceToken(name: string): Promise<DeviceCredentials> {
    const path = routes.deviceToken(name);
    return this.#check('POST', path, decode.deviceCredentials, (await this.#send('POST', path)).body);
  }

  async telemetry(name: string, query: TelemetryQuery): Promise<TelemetrySeries> {
    return this.#get(routes.deviceTelemetry(name), decode.telemetry, { ...query });
  }

  async deviceModules(name: string): Promise<DeviceModuleList> {
    return this.#get(routes.deviceModules(name), decode.deviceModules);
  }

  async listDeployments(): Promise<Deployment[]> {
    return (await this.#get(routes.deployments, decode.deploymentList)).items;
  }

  async getDeployment(name: string): Promise<Deployment> {
    return this.#get(routes.deployment(name), decode.deployment);
  }

  async putDeployment(
    name: string,
    request: PutDeploymentRequest,
  ): Promise<{ created: boolean; deployment: Deployment }> {
    const path = routes.deployment(name);
    const answer = await this.#send('PUT', path, request);
    return { created: answer.status === 201, deployment: this.#check('PUT', path, decode.deployment, answer.body) };
  }

  /** What applying the deployment would change on each device; the hub stores nothing. */
  async dryRunDeployment(name: string, request: PutDeploymentRequest): Promise<DeploymentDryRun> {
    const path = routes.deployment(name);
    const answer = await this.#send('PUT', path, request, { dryRun: 'true' });
    return this.#check('PUT', path, decode.deploymentDryRun, answer.body);
  }

  async deleteDeployment(name: string): Promise<void> {
    await this.#send('DELETE', routes.deployment(name));
  }

  /** `force`: a progressing rollout too (the hub refuses it otherwise). */
  async deleteRollout(name: string, force = false): Promise<void> {
    await this.#send('DELETE', routes.rollout(name), undefined, force ? { force: 'true' } : undefined);
  }

  async listEnrollmentGroups(): Promise<EnrollmentGroup[]> {
    return (await this.#get(routes.enrollmentGroups, decode.groupList)).items;
  }

  async getEnrollmentGroup(name: string): Promise<EnrollmentGroup> {
    return this.#get(routes.enrollmentGroup(name), decode.group);
  }

  async putEnrollmentGroup(name: string, request: PutEnrollmentGroupRequest): Promise<PutGroupResult> {
    const path = routes.enrollmentGroup(name);
    const answer = await this.#send('PUT', path, request);
    if (answer.status === 201)
      return { created: true, ...this.#check('PUT', path, decode.groupCredentials, answer.body) };
    return { created: false, group: this.#check('PUT', path, decode.group, answer.body) };
  }

  async deleteEnrollmentGroup(name: string): Promise<void> {
    await this.#send('DELETE', routes.enrollmentGroup(name));
  }

  async listEvents(query: EventsQuery): Promise<HubEvent[]> {
    return (await this.#get(routes.events, decode.events, { ...query })).items;
  }

  async listTokens(): Promise<ApiToken[]> {
    return (await this.#get(routes.tokens, decode.tokenList)).items;
  }

  async createToken(request: CreateApiTokenRequest): Promise<ApiTokenCredentials> {
    return this.#check(
      'POST',
      routes.tokens,
      decode.tokenCredentials,
      (await this.#send('POST', routes.tokens, request)).body,
    );
  }

  async deleteToken(name: string): Promise<void> {
    await this.#send('DELETE', routes.token(name));
  }

  /** Uploads a file (streamed) under its SHA-256. */
  async uploadBlob(sha256: string, file: ReadableStream<Uint8Array>): Promise<BlobInfo> {
    const path = routes.blob(sha256);
    const answer = await this.#send('PUT', path, new RawBody('application/octet-stream', file));
    return this.#check('PUT', path, decode.blob, answer.body);
  }

  async pushManifest(manifest: SignedManifest): Promise<{ created: boolean; artifact: Artifact }> {
    const answer = await this.#send('POST', routes.artifacts, manifest);
    return {
      created: answer.status === 201,
      artifact: this.#check('POST', routes.artifacts, decode.artifact, answer.body),
    };
  }

  async listArtifacts(name?: string): Promise<Artifact[]> {
    if (name !== undefined) return (await this.#get(routes.artifact(name), decode.artifactList)).items;
    return (await this.#get(routes.artifacts, decode.artifactList)).items;
  }

  async listDecisions(query: DecisionsQuery): Promise<Decision[]> {
    return (await this.#get(routes.decisions, decode.decisionList, { ...query })).items;
  }

  async getDecision(id: string): Promise<Decision> {
    return this.#get(routes.decision(id), decode.decision);
  }

  /** Approves or rejects a decision awaiting approval; the answer is the decision after it. */
  async decide(id: string, verdict: 'approve' | 'reject', reason?: string): Promise<Decision> {
    const path = verdict === 'approve' ? routes.decisionApprove(id) : routes.decisionReject(id);
    const answer = await this.#send('POST', path, reason === undefined ? {} : { reason });
    return this.#check('POST', path, decode.decision, answer.body);
  }

  async putPolicy(name: string, request: PutPolicyRequest): Promise<{ created: boolean; policy: Policy }> {
    const path = routes.policy(name);
    const answer = await this.#send('PUT', path, request);
    return { created: answer.status === 201, policy: this.#check('PUT', path, decode.policy, answer.body) };
  }

  async listIncidents(query: IncidentsQuery): Promise<IncidentList['items']> {
    return (await this.#get(routes.incidents, decode.incidentList, { ...query })).items;
  }

  async getIncident(id: string): Promise<Incident> {
    return this.#get(routes.incident(id), decode.incident);
  }

  /** Resolves an open incident with a note; the answer is the incident after it. */
  async resolveIncident(id: string, note: string): Promise<Incident> {
    const path = routes.incidentResolve(id);
    return this.#check('POST', path, decode.incident, (await this.#send('POST', path, { note })).body);
  }

  async getPostMortem(id: string): Promise<PostMortem> {
    return this.#get(routes.incidentPostMortem(id), decode.postMortem);
  }

  /** The post-mortem as the hub writes it in Markdown. */
  async getPostMortemMarkdown(id: string): Promise<string> {
    const answer = await this.#send('GET', routes.incidentPostMortem(id), undefined, { format: 'md' }, 'text');
    return String(answer.body);
  }

  /** Replaces a device with another; `dryRun` only answers what would move. */
  async replaceDevice(name: string, neu: string, dryRun: boolean): Promise<ReplaceDeviceResponse> {
    const path = routes.deviceReplace(name);
    const answer = await this.#send('POST', path, { with: neu }, dryRun ? { dryRun: 'true' } : undefined);
    return this.#check('POST', path, decode.replace, answer.body);
  }

  async getAutonomy(): Promise<AutonomySettings> {
    return this.#get(routes.autonomy, decode.autonomy);
  }

  async listRollouts(): Promise<Rollout[]> {
    return (await this.#get(routes.rollouts, decode.rolloutList)).items;
  }

  async getRollout(name: string): Promise<Rollout> {
    return this.#get(routes.rollout(name), decode.rollout);
  }

  async putRollout(name: string, request: PutRolloutRequest): Promise<{ created: boolean; rollout: Rollout }> {
    const path = routes.rollout(name);
    const answer = await this.#send('PUT', path, request);
    return { created: answer.status === 201, rollout: this.#check('PUT', path, decode.rollout, answer.body) };
  }

  /** The waves and their devices if the rollout were applied; the hub stores nothing. */
  async dryRunRollout(name: string, request: PutRolloutRequest): Promise<RolloutDryRun> {
    const path = routes.rollout(name);
    return this.#check(
      'PUT',
      path,
      decode.rolloutDryRun,
      (await this.#send('PUT', path, request, { dryRun: 'true' })).body,
    );
  }

  /** `pause`, `resume` or `undo` (with its body). */
  async rolloutAction(path: string, body?: { toRevision?: number }): Promise<Rollout> {
    return this.#check('POST', path, decode.rollout, (await this.#send('POST', path, body)).body);
  }

  async rolloutHistory(name: string): Promise<RolloutHistory> {
    return this.#get(routes.rolloutHistory(name), decode.rolloutHistory);
  }

  async #get<T>(path: string, decoder: Decoder<T>, query?: Query): Promise<T> {
    const answer = await this.#send('GET', path, undefined, query);
    return this.#check('GET', path, decoder, answer.body);
  }

  #check<T>(method: string, path: string, decoder: Decoder<T>, body: unknown): T {
    const parsed = decoder.parse(body);
    if (parsed.ok) return parsed.value;
    throw new CliError(`unexpected response from the hub to ${method} ${path}`, parsed.errors);
  }

  async #send(
    method: string,
    path: string,
    body?: unknown,
    query?: Query,
    as: 'json' | 'text' = 'json',
  ): Promise<Answer> {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    const raw = body instanceof RawBody ? body : null;
    if (body !== undefined) headers['content-type'] = raw?.contentType ?? 'application/json';
    let response: Response;
    try {
      response = await this.#io.fetch(url, {
        method,
        headers,
        ...(raw !== null
          ? { body: raw.data, duplex: 'half' }
          : body !== undefined
            ? { body: JSON.stringify(body) }
            : {}),
        signal: AbortSignal.timeout(raw !== null ? UPLOAD_TIMEOUT_MS : REQUEST_TIMEOUT_MS),
      } as RequestInit);
    } catch (err) {
      throw new UnreachableError(this.server, describeNetworkError(err));
    }
    const text = await response.text();
    let json: unknown = null;
    let jsonError: string | null = null;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch (err) {
        jsonError = (err as Error).message;
      }
    }
    if (!response.ok) throw apiError(response, json, text);
    if (as === 'text') return { status: response.status, body: text };
    if (jsonError !== null) {
      throw new CliError(`unexpected response from the hub to ${method} ${path}: not JSON (${jsonError})`);
    }
    return { status: response.status, body: json };
  }
}

/** A body sent as it is (a file), not as JSON. */
class RawBody {
  constructor(
    readonly contentType: string,
    readonly data: ReadableStream<Uint8Array>,
  ) {}
}

/** The error body of the contract, or a stand-in built from the status for anything else (a proxy's page). */
function apiError(response: Response, json: unknown, text: string): ApiError {
  const error = typeof json === 'object' && json !== null ? (json as { error?: unknown }).error : undefined;
  if (typeof error === 'object' && error !== null) {
    const { code, message, details } = error as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof code === 'string' && typeof message === 'string') {
      const lines = Array.isArray(details) ? details.map(String) : [];
      return new ApiError(response.status, code, message, lines);
    }
  }
  const snippet = text.trim().slice(0, 200);
  const message = response.statusText || 'request failed';
  return new ApiError(response.status, `HTTP ${response.status}`, snippet ? `${message}: ${snippet}` : message);
}

/** fetch() wraps the socket error in `cause`; its code (ECONNREFUSED, ENOTFOUND) is what a person needs. */
function describeNetworkError(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  }
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}
