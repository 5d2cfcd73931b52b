// /api/v1/events: what the hub and the devices recorded, newest last.

import { ErrorResponse, EventsQuery, HubEventList, routes } from '@homeostat/protocol';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

export async function eventRoutes(app: FastifyInstance, { store }: HttpDeps): Promise<void> {
  app.get(
    routes.events,
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['events'],
        summary: 'Events by device and type; `after` pages forward by id',
        querystring: EventsQuery,
        response: { 200: HubEventList, 400: ErrorResponse, 401: ErrorResponse },
      },
    },
    async (req) => {
      const q = req.query as EventsQuery;
      const items = await store.listEvents({
        limit: q.limit ?? 100,
        ...(q.device !== undefined ? { device: q.device } : {}),
        ...(q.type !== undefined ? { type: q.type } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
      });
      return { items };
    },
  );
}
