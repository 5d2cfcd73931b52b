// /api/v1/policies: the goals the autonomic manager keeps, and how. A policy that contradicts
// another, could act on the whole fleet at once without a rate limit, or names something
// unknown is refused with every problem as `path: message`.

import { Name, Policy, PolicyList, PutPolicyRequest, routes } from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';
import { autonomicErrors } from './decisions.js';

const NameParams = Type.Object({ name: Name });
const tags = ['autonomic'];

export async function policyRoutes(app: FastifyInstance, { autonomic }: HttpDeps): Promise<void> {
  app.get(
    routes.policies,
    { config: { role: 'viewer' }, schema: { tags, response: { 200: PolicyList, ...autonomicErrors } } },
    async () => ({ items: await autonomic.listPolicies() }),
  );

  app.get(
    '/api/v1/policies/:name',
    {
      config: { role: 'viewer' },
      schema: { tags, params: NameParams, response: { 200: Policy, ...autonomicErrors } },
    },
    async (req) => autonomic.getPolicy((req.params as { name: string }).name),
  );

  app.put(
    '/api/v1/policies/:name',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Create (201) or replace (200) a policy; 422 ERR_POLICY_INVALID lists what is wrong',
        params: NameParams,
        body: PutPolicyRequest,
        response: { 200: Policy, 201: Policy, ...autonomicErrors },
      },
    },
    async (req, reply) => {
      const r = await autonomic.putPolicy((req.params as { name: string }).name, req.body as PutPolicyRequest);
      return reply.status(r.created ? 201 : 200).send(r.policy);
    },
  );

  app.delete(
    '/api/v1/policies/:name',
    {
      config: { role: 'operator' },
      schema: { tags, params: NameParams, response: { 204: Type.Null(), ...autonomicErrors } },
    },
    async (req, reply) => {
      await autonomic.deletePolicy((req.params as { name: string }).name);
      return reply.status(204).send();
    },
  );
}
