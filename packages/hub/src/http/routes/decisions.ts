// /api/v1/decisions: what the autonomic manager decided and why; operators approve or reject
// the decisions that wait for a person.

import { DecideRequest, Decision, DecisionList, DecisionsQuery, ErrorResponse, routes } from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HttpDeps } from '../server.js';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const autonomicErrors = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  422: ErrorResponse,
};
const tags = ['autonomic'];

export async function decisionRoutes(app: FastifyInstance, { autonomic }: HttpDeps): Promise<void> {
  app.get(
    routes.decisions,
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary: 'Decisions, the newest first, by device, policy and state',
        querystring: DecisionsQuery,
        response: { 200: DecisionList, ...autonomicErrors },
      },
    },
    async (req) => ({ items: await autonomic.listDecisions(req.query as DecisionsQuery) }),
  );

  app.get(
    '/api/v1/decisions/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary: 'One decision: trigger and evidence, analysis, plan, actions, verification, explanation',
        params: IdParams,
        response: { 200: Decision, ...autonomicErrors },
      },
    },
    async (req) => autonomic.getDecision((req.params as { id: string }).id),
  );

  for (const verdict of ['approve', 'reject'] as const) {
    app.post(
      `/api/v1/decisions/:id/${verdict}`,
      {
        config: { role: 'operator' },
        schema: {
          tags,
          summary:
            verdict === 'approve'
              ? 'Approve a decision awaiting approval: the hub carries it out and answers with the result'
              : 'Reject a decision awaiting approval: nothing is done',
          params: IdParams,
          body: Type.Optional(DecideRequest),
          response: { 200: Decision, ...autonomicErrors },
        },
      },
      async (req: FastifyRequest) => {
        const { id } = req.params as { id: string };
        const reason = (req.body as DecideRequest | undefined)?.reason ?? null;
        const by = req.principal?.name ?? 'unknown';
        return verdict === 'approve' ? autonomic.approve(id, by, reason) : autonomic.reject(id, by, reason);
      },
    );
  }
}
