// Health, readiness, Prometheus metrics and the OpenAPI document: public, no token.

import { Health } from '@homeostat/protocol';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

export async function systemRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/healthz', { schema: { tags: ['system'], security: [], response: { 200: Health } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    { schema: { tags: ['system'], security: [], response: { 200: Health, 503: Health } } },
    async (_req, reply) => {
      const checks: Record<string, string> = {};
      try {
        await deps.store.ping();
        checks.store = 'ok';
      } catch (err) {
        checks.store = `failing: ${(err as Error).message}`;
      }
      checks.mqtt = deps.mqttReady() ? 'ok' : 'not listening';
      const ready = Object.values(checks).every((c) => c === 'ok');
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
    },
  );

  app.get('/metrics', { schema: { tags: ['system'], security: [], hide: true } }, async (_req, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.header('content-type', deps.metrics.registry.contentType).send(body);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
