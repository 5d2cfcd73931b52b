// /api/v1/telemetry: one metric across the fleet (or a label selector of it), downsampled.

import { ErrorResponse, FleetTelemetry, FleetTelemetryQuery, routes } from '@homeostat/protocol';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

export async function telemetryRoutes(app: FastifyInstance, { devices }: HttpDeps): Promise<void> {
  app.get(
    routes.telemetry,
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['telemetry'],
        summary: 'One metric aggregated across the devices of a label selector, per bucket (from the rollups)',
        querystring: FleetTelemetryQuery,
        response: { 200: FleetTelemetry, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse },
      },
    },
    async (req) => devices.fleetTelemetry(req.query as FleetTelemetryQuery),
  );
}
