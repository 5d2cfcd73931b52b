// /api/v1/rollouts: thin translation to the rollout service.

import {
  ErrorResponse,
  Name,
  PutRolloutRequest,
  Rollout,
  RolloutDryRun,
  RolloutHistory,
  RolloutList,
  routes,
  UndoRolloutRequest,
} from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RolloutService } from '../../rollout/service.js';

const NameParams = Type.Object({ name: Name });
const PutQuery = Type.Object({
  dryRun: Type.Optional(Type.Boolean({ description: 'answer the waves and their devices, store nothing' })),
});
const DeleteQuery = Type.Object({
  force: Type.Optional(Type.Boolean({ description: 'delete a progressing rollout too' })),
});
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const tags = ['rollouts'];
/** Evidence is a record of numbers or strings, which the compiled serializer handles poorly; as for deployments. */
const serializerCompiler = () => (data: unknown) => JSON.stringify(data);
const nameOf = (req: { params: unknown }) => (req.params as { name: string }).name;

export async function rolloutRoutes(app: FastifyInstance, { rollouts }: { rollouts: RolloutService }): Promise<void> {
  const read = { config: { role: 'viewer' as const }, serializerCompiler };
  const write = { config: { role: 'operator' as const }, serializerCompiler };

  app.get(
    routes.rollouts,
    {
      ...read,
      schema: { tags, summary: 'List rollouts with their status', response: { 200: RolloutList, ...errors } },
    },
    async () => ({ items: await rollouts.list() }),
  );

  app.get(
    '/api/v1/rollouts/:name',
    {
      ...read,
      schema: {
        tags,
        summary: 'One rollout and its status',
        params: NameParams,
        response: { 200: Rollout, ...errors },
      },
    },
    async (req) => rollouts.get(nameOf(req)),
  );

  app.put(
    '/api/v1/rollouts/:name',
    {
      ...write,
      schema: {
        tags,
        summary:
          'Create (201) or change (200) a rollout; a new artifact version is a new revision. With dryRun=true, the waves and their devices, nothing stored',
        params: NameParams,
        querystring: PutQuery,
        body: PutRolloutRequest,
        response: { 200: Type.Union([Rollout, RolloutDryRun]), 201: Rollout, ...errors },
      },
    },
    async (req, reply) => {
      const body = req.body as PutRolloutRequest;
      if ((req.query as { dryRun?: boolean }).dryRun) return reply.send(await rollouts.dryRun(nameOf(req), body));
      const r = await rollouts.put(nameOf(req), body);
      return reply.status(r.created ? 201 : 200).send(r.rollout);
    },
  );

  app.delete(
    '/api/v1/rollouts/:name',
    {
      ...write,
      schema: {
        tags,
        summary:
          'Delete a rollout (409 while progressing, unless force=true); devices keep what they run, its desired updates are taken back',
        params: NameParams,
        querystring: DeleteQuery,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await rollouts.delete(nameOf(req), (req.query as { force?: boolean }).force === true);
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/rollouts/:name/pause',
    {
      ...write,
      schema: { tags, summary: 'Start no more devices', params: NameParams, response: { 200: Rollout, ...errors } },
    },
    async (req) => rollouts.pause(nameOf(req)),
  );

  app.post(
    '/api/v1/rollouts/:name/resume',
    {
      ...write,
      schema: { tags, summary: 'Start devices again', params: NameParams, response: { 200: Rollout, ...errors } },
    },
    async (req) => rollouts.resume(nameOf(req)),
  );

  app.post(
    '/api/v1/rollouts/:name/undo',
    {
      ...write,
      schema: {
        tags,
        summary: "A new revision targeting an earlier revision's artifact again",
        params: NameParams,
        body: Type.Optional(UndoRolloutRequest),
        response: { 200: Rollout, ...errors },
      },
    },
    async (req) => rollouts.undo(nameOf(req), (req.body as { toRevision?: number } | undefined)?.toRevision),
  );

  app.get(
    '/api/v1/rollouts/:name/history',
    {
      ...read,
      schema: {
        tags,
        summary: 'Every revision, oldest first',
        params: NameParams,
        response: { 200: RolloutHistory, ...errors },
      },
    },
    async (req) => rollouts.history(nameOf(req)),
  );
}
