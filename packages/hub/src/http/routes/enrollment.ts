// /api/v1/enrollment-groups: claim tokens and templates for zero-touch provisioning.

import {
  EnrollmentGroup,
  EnrollmentGroupCredentials,
  EnrollmentGroupList,
  ErrorResponse,
  Name,
  PutEnrollmentGroupRequest,
  routes,
} from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

const NameParams = Type.Object({ name: Name });
const CreateBody = Type.Composite([Type.Object({ name: Name }), PutEnrollmentGroupRequest], {
  additionalProperties: false,
});
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const tags = ['enrollment'];

export async function enrollmentRoutes(app: FastifyInstance, { enrollment }: HttpDeps): Promise<void> {
  app.get(
    routes.enrollmentGroups,
    { config: { role: 'viewer' }, schema: { tags, response: { 200: EnrollmentGroupList, ...errors } } },
    async () => ({ items: await enrollment.list() }),
  );

  app.post(
    routes.enrollmentGroups,
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Create a group; the answer carries its claim token, shown this once',
        body: CreateBody,
        response: { 201: EnrollmentGroupCredentials, ...errors },
      },
    },
    async (req, reply) => {
      const { name, ...rest } = req.body as { name: string } & PutEnrollmentGroupRequest;
      return reply.status(201).send(await enrollment.create(name, rest));
    },
  );

  app.get(
    '/api/v1/enrollment-groups/:name',
    { config: { role: 'viewer' }, schema: { tags, params: NameParams, response: { 200: EnrollmentGroup, ...errors } } },
    async (req) => enrollment.get((req.params as { name: string }).name),
  );

  app.put(
    '/api/v1/enrollment-groups/:name',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Create (201, with its claim token) or update (200) a group',
        params: NameParams,
        body: PutEnrollmentGroupRequest,
        response: { 200: EnrollmentGroup, 201: EnrollmentGroupCredentials, ...errors },
      },
    },
    async (req, reply) => {
      const r = await enrollment.put((req.params as { name: string }).name, req.body as PutEnrollmentGroupRequest);
      return r.created ? reply.status(201).send({ group: r.group, claimToken: r.claimToken }) : reply.send(r.group);
    },
  );

  app.delete(
    '/api/v1/enrollment-groups/:name',
    { config: { role: 'admin' }, schema: { tags, params: NameParams, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await enrollment.delete((req.params as { name: string }).name);
      return reply.status(204).send();
    },
  );
}
