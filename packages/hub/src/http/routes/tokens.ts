// /api/v1/tokens and /api/v1/whoami: API tokens, admin only; who the caller is, anyone.

import {
  ApiTokenCredentials,
  ApiTokenList,
  CreateApiTokenRequest,
  ErrorResponse,
  Name,
  routes,
  WhoAmI,
} from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };
const tags = ['tokens'];

export async function tokenRoutes(app: FastifyInstance, { tokens }: HttpDeps): Promise<void> {
  app.get(
    routes.whoami,
    { config: { role: 'viewer' }, schema: { tags, response: { 200: WhoAmI, ...errors } } },
    async (req) => ({ name: req.principal?.name ?? '', role: req.principal?.role ?? 'viewer' }),
  );

  app.get(
    routes.tokens,
    { config: { role: 'admin' }, schema: { tags, response: { 200: ApiTokenList, ...errors } } },
    async () => ({ items: await tokens.list() }),
  );

  app.post(
    routes.tokens,
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Create an API token; its secret is shown this once',
        body: CreateApiTokenRequest,
        response: { 201: ApiTokenCredentials, ...errors },
      },
    },
    async (req, reply) => {
      const body = req.body as CreateApiTokenRequest;
      return reply.status(201).send(await tokens.create(body.name, body.role));
    },
  );

  app.delete(
    '/api/v1/tokens/:name',
    {
      config: { role: 'admin' },
      schema: { tags, params: Type.Object({ name: Name }), response: { 204: Type.Null(), ...errors } },
    },
    async (req, reply) => {
      await tokens.delete((req.params as { name: string }).name);
      return reply.status(204).send();
    },
  );
}
