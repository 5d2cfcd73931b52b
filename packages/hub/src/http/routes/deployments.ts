// /api/v1/deployments: thin translation to the deployment service.

import {
  Deployment,
  DeploymentDryRun,
  DeploymentList,
  ErrorResponse,
  Name,
  PutDeploymentRequest,
  routes,
} from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

const NameParams = Type.Object({ name: Name });
const PutQuery = Type.Object({
  dryRun: Type.Optional(Type.Boolean({ description: 'answer what would change, store nothing' })),
});
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const tags = ['deployments'];
/**
 * Answers are written with JSON.stringify, not a serializer compiled from the schema: a module
 * spec holds the recursive rule `Condition` (one `$id` used in several places), which the
 * compiled serializer refuses. The schemas still document the answers in /openapi.json, and the
 * service builds each answer from the stored resource (nothing extra to strip).
 */
const serializerCompiler = () => (data: unknown) => JSON.stringify(data);

export async function deploymentRoutes(app: FastifyInstance, { deployments }: HttpDeps): Promise<void> {
  app.get(
    routes.deployments,
    {
      config: { role: 'viewer' },
      serializerCompiler,
      schema: {
        tags,
        summary: 'List deployments with their targeted, applied, pending, failing and overridden counts',
        response: { 200: DeploymentList, ...errors },
      },
    },
    async () => ({ items: await deployments.list() }),
  );

  app.get(
    '/api/v1/deployments/:name',
    {
      config: { role: 'viewer' },
      serializerCompiler,
      schema: {
        tags,
        summary: 'One deployment, with how it stands on each device it targets',
        params: NameParams,
        response: { 200: Deployment, ...errors },
      },
    },
    async (req) => deployments.get((req.params as { name: string }).name),
  );

  app.put(
    '/api/v1/deployments/:name',
    {
      config: { role: 'operator' },
      serializerCompiler,
      schema: {
        tags,
        summary:
          'Create (201) or replace (200) a deployment; with dryRun=true, which devices would change and how, nothing stored',
        params: NameParams,
        querystring: PutQuery,
        body: PutDeploymentRequest,
        response: { 200: Type.Union([Deployment, DeploymentDryRun]), 201: Deployment, ...errors },
      },
    },
    async (req, reply) => {
      const name = (req.params as { name: string }).name;
      const body = req.body as PutDeploymentRequest;
      if ((req.query as { dryRun?: boolean }).dryRun) return reply.send(await deployments.dryRun(name, body));
      const r = await deployments.put(name, body);
      return reply.status(r.created ? 201 : 200).send(r.deployment);
    },
  );

  app.delete(
    '/api/v1/deployments/:name',
    {
      config: { role: 'operator' },
      serializerCompiler,
      schema: {
        tags,
        summary: 'Delete a deployment; its modules leave the devices (unless another deployment has them)',
        params: NameParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await deployments.delete((req.params as { name: string }).name);
      return reply.status(204).send();
    },
  );
}
