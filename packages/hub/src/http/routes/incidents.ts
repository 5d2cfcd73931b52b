// /api/v1/incidents: incidents and work orders the autonomic manager opened for people; a person
// resolves one with a note, and the blameless post-mortem of a resolved incident is served as
// JSON or Markdown.

import {
  Incident,
  IncidentList,
  IncidentsQuery,
  PostMortem,
  ResolveIncidentRequest,
  routes,
} from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { postMortemMarkdown } from '../../autonomic/postmortem.js';
import type { HttpDeps } from '../server.js';
import { autonomicErrors } from './decisions.js';

const tags = ['autonomic'];
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export async function incidentRoutes(app: FastifyInstance, { autonomic }: HttpDeps): Promise<void> {
  app.get(
    routes.incidents,
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary: 'Incidents and work orders, the newest first, by device and state',
        querystring: IncidentsQuery,
        response: { 200: IncidentList, ...autonomicErrors },
      },
    },
    async (req) => ({ items: await autonomic.listIncidents(req.query as IncidentsQuery) }),
  );

  app.get(
    '/api/v1/incidents/:id',
    {
      config: { role: 'viewer' },
      schema: { tags, params: IdParams, response: { 200: Incident, ...autonomicErrors } },
    },
    async (req) => autonomic.getIncident((req.params as { id: string }).id),
  );

  app.post(
    '/api/v1/incidents/:id/resolve',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Resolve an open incident or work order with a note; an incident gets its post-mortem',
        params: IdParams,
        body: ResolveIncidentRequest,
        response: { 200: Incident, ...autonomicErrors },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { note } = req.body as ResolveIncidentRequest;
      return autonomic.resolveIncident(id, req.principal?.name ?? 'unknown', note);
    },
  );

  app.get(
    '/api/v1/incidents/:id/postmortem',
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary:
          'The blameless post-mortem of a resolved incident: JSON, or Markdown (Accept: text/markdown, or ?format=md)',
        params: IdParams,
        querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('md')])) }),
        response: { 200: PostMortem, ...autonomicErrors },
      },
    },
    async (req, reply) => {
      const p = await autonomic.getPostMortem((req.params as { id: string }).id);
      const { format } = req.query as { format?: 'json' | 'md' };
      const markdown = format === 'md' || (format === undefined && /\btext\/markdown\b/.test(req.headers.accept ?? ''));
      if (!markdown) return p;
      return reply.type('text/markdown; charset=utf-8').serializer(String).send(postMortemMarkdown(p));
    },
  );
}
