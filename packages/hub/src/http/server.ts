// The HTTP API: fastify, bearer-token auth with roles, errors as `{"error":{code,message}}`,
// OpenAPI generated from the route schemas. Routes only translate to the services.

import swagger from '@fastify/swagger';
import { type Clock, hashToken, type Logger, sameHash } from '@homeostat/kit';
import {
  ERRORS,
  type ErrorCode,
  HomeostatError,
  isHomeostatError,
  parser,
  type Role,
  roleAllows,
} from '@homeostat/protocol';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import type { AutonomicService } from '../autonomic/service.js';
import type { HubMetrics } from '../metrics.js';
import type { RolloutService } from '../rollout/service.js';
import type { DeploymentService } from '../services/deployments.js';
import type { DeviceService } from '../services/devices.js';
import type { EnrollmentService } from '../services/enrollment.js';
import type { TokenService } from '../services/tokens.js';
import type { Store } from '../store/store.js';
import { artifactRoutes } from './routes/artifacts.js';
import { autonomyRoutes } from './routes/autonomy.js';
import { decisionRoutes } from './routes/decisions.js';
import { deploymentRoutes } from './routes/deployments.js';
import { deviceRoutes } from './routes/devices.js';
import { enrollmentRoutes } from './routes/enrollment.js';
import { eventRoutes } from './routes/events.js';
import { incidentRoutes } from './routes/incidents.js';
import { policyRoutes } from './routes/policies.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { systemRoutes } from './routes/system.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { tokenRoutes } from './routes/tokens.js';

export interface HttpDeps {
  logger: Logger;
  metrics: HubMetrics;
  clock: Clock;
  store: Store;
  artifacts: ArtifactStore;
  devices: DeviceService;
  deployments: DeploymentService;
  enrollment: EnrollmentService;
  tokens: TokenService;
  maxBodyBytes: number;
  /** For /readyz: whether the MQTT endpoint is serving. */
  mqttReady: () => boolean;
  version: string;
  autonomic: AutonomicService;
  rollouts: RolloutService;
}

export interface Principal {
  /** A person's or a script's API token, or a device with its own credentials (few routes). */
  kind: 'token' | 'device';
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The least role a route needs; routes without one are public (health, metrics, OpenAPI). */
    role?: Role;
    /** Devices may call it too, with HTTP Basic (device name, device token), as they log in to MQTT. */
    devices?: boolean;
  }
}

export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: deps.maxBodyBytes });
  // JSON only: a text/plain body gets 415, not a confusing schema error.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(({ schema, httpPart }) => compileValidator(schema as TSchema, httpPart));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Homeostat hub API',
        version: deps.version,
        description: 'Fleet management over HTTP. Every /api/v1 route needs `Authorization: Bearer <token>`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onRequest', async (request) => {
    const need = request.routeOptions.config.role;
    if (need === undefined) return;
    request.principal = await authenticate(request, deps, request.routeOptions.config.devices === true);
    if (!roleAllows(request.principal.role, need)) {
      throw new HomeostatError(
        'ERR_AUTH_FORBIDDEN',
        `role ${request.principal.role} may not do this; it needs ${need}`,
      );
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequests.inc({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });

  app.setErrorHandler((err: FastifyError | HomeostatError, request, reply) => {
    const e = toHomeostatError(err);
    if (e.status >= 500) deps.logger.error({ err, url: request.url, reqId: request.id }, 'request failed');
    void reply.status(e.status).send(e.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const e = new HomeostatError('ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(404).send(e.toBody());
  });

  await systemRoutes(app, deps);
  await deviceRoutes(app, deps);
  await deploymentRoutes(app, deps);
  await enrollmentRoutes(app, deps);
  await eventRoutes(app, deps);
  await tokenRoutes(app, deps);
  await telemetryRoutes(app, deps);
  await artifactRoutes(app, deps);
  await decisionRoutes(app, deps);
  await policyRoutes(app, deps);
  await incidentRoutes(app, deps);
  await autonomyRoutes(app, deps);
  await rolloutRoutes(app, deps);
  return app;
}

/**
 * Request validation with the protocol's own schemas and parser (so a mistake inside a union,
 * such as a module's config, is reported where it is): bodies are checked as sent (no type
 * coercion: `"5"` is not a number), query strings and path parameters are converted first.
 */
function compileValidator(schema: TSchema, httpPart: string | undefined) {
  const p = parser(schema);
  const where = httpPart ?? 'body';
  return (data: unknown) => {
    const parsed = p.parse(where === 'body' ? data : Value.Convert(schema, data));
    if (parsed.ok) return { value: parsed.value };
    const details = parsed.errors.map((e) => `${where}${e.startsWith('/:') ? e.slice(1) : e}`);
    return { error: new HomeostatError('ERR_VALIDATION', `the request ${where} does not match its schema`, details) };
  };
}

async function authenticate(request: FastifyRequest, deps: HttpDeps, devices: boolean): Promise<Principal> {
  const header = request.headers.authorization;
  if (!header) throw new HomeostatError('ERR_AUTH_MISSING', 'send Authorization: Bearer <token>');
  const basic = /^Basic\s+(\S+)$/i.exec(header);
  if (basic?.[1] && devices) return authenticateDevice(basic[1], deps.store);
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new HomeostatError('ERR_AUTH_MISSING', 'the Authorization header must be Bearer <token>');
  const token = await deps.tokens.authenticate(match[1]);
  if (!token) throw new HomeostatError('ERR_AUTH_INVALID', 'unknown or revoked token');
  return { kind: 'token', name: token.name, role: token.role };
}

/** A device's own credentials; a quarantined or retired device gets nothing. */
async function authenticateDevice(encoded: string, store: Store): Promise<Principal> {
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  const name = text.slice(0, colon);
  const device = colon > 0 ? await store.getDevice(name) : undefined;
  if (!device || !sameHash(device.tokenHash, hashToken(text.slice(colon + 1)))) {
    throw new HomeostatError('ERR_AUTH_INVALID', 'unknown device or wrong token');
  }
  if (device.lifecycle === 'quarantined' || device.lifecycle === 'retired') {
    throw new HomeostatError('ERR_AUTH_FORBIDDEN', `device ${name} is ${device.lifecycle}`);
  }
  return { kind: 'device', name, role: 'viewer' };
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_BAD_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_BAD_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ERR_VALIDATION',
};

function toHomeostatError(err: FastifyError | HomeostatError): HomeostatError {
  if (isHomeostatError(err)) return err;
  if (err.validation) {
    const details = err.validation.map((v) => {
      const where = `${err.validationContext ?? 'body'}${v.instancePath || ''}`;
      const extra = v.keyword === 'additionalProperties' ? ` (${String(v.params.additionalProperty)})` : '';
      return `${where}: ${v.message ?? 'invalid'}${extra}`;
    });
    return new HomeostatError('ERR_VALIDATION', 'the request does not match its schema', details);
  }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (mapped) return new HomeostatError(mapped, `${ERRORS[mapped].summary} ${err.message}`);
  if (err instanceof SyntaxError) return new HomeostatError('ERR_BAD_JSON', err.message);
  if (err.statusCode === 404) return new HomeostatError('ERR_NOT_FOUND', err.message);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return new HomeostatError('ERR_VALIDATION', err.message);
  }
  return new HomeostatError('ERR_INTERNAL');
}
