// /api/v1/incidents: incidents and work orders the autonomic manager opened for people.

import { Incident, IncidentList, IncidentsQuery, routes } from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';
import { autonomicErrors } from './decisions.js';

const tags = ['autonomic'];

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
      schema: {
        tags,
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Incident, ...autonomicErrors },
      },
    },
    async (req) => autonomic.getIncident((req.params as { id: string }).id),
  );
}
