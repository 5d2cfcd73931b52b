// /api/v1/autonomy: the degree each self-management property runs at, per scope, and what each
// degree did. Also a device's lifecycle, so a person can lift a quarantine the loop put on, and
// the replacement of a device by another (self-configuration).

import {
  AutonomySettings,
  Device,
  LIFECYCLES,
  type Lifecycle,
  Name,
  PutAutonomyRequest,
  ReplaceDeviceRequest,
  ReplaceDeviceResponse,
  routes,
} from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';
import { autonomicErrors } from './decisions.js';

const tags = ['autonomic'];

export async function autonomyRoutes(app: FastifyInstance, { autonomic }: HttpDeps): Promise<void> {
  app.get(
    routes.autonomy,
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary: 'The autonomy rules, the fleet-wide degree of each property, and the record of each degree',
        response: { 200: AutonomySettings, ...autonomicErrors },
      },
    },
    async () => autonomic.getAutonomy(),
  );

  app.put(
    routes.autonomy,
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Replace the autonomy rules (degree per property and scope; approval deadline and default)',
        body: PutAutonomyRequest,
        response: { 200: AutonomySettings, ...autonomicErrors },
      },
    },
    async (req) => autonomic.putAutonomy(req.body as PutAutonomyRequest),
  );

  app.put(
    '/api/v1/devices/:name/lifecycle',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary:
          'Set a device lifecycle, e.g. active again after a quarantine; quarantined or retired closes its connection',
        params: Type.Object({ name: Name }),
        body: Type.Object(
          { lifecycle: Type.Union(LIFECYCLES.map((l) => Type.Literal(l))) },
          { additionalProperties: false },
        ),
        response: { 200: Device, ...autonomicErrors },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      return autonomic.setLifecycle(
        name,
        (req.body as { lifecycle: Lifecycle }).lifecycle,
        req.principal?.name ?? 'unknown',
      );
    },
  );

  app.post(
    '/api/v1/devices/:name/replace',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary:
          'Replace a device with another: labels, desired state and duties move to it, the old one is retired (?dryRun=true: what would move)',
        params: Type.Object({ name: Name }),
        querystring: Type.Object({ dryRun: Type.Optional(Type.Boolean()) }),
        body: ReplaceDeviceRequest,
        response: { 200: ReplaceDeviceResponse, ...autonomicErrors },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const { dryRun } = req.query as { dryRun?: boolean };
      const by = req.principal?.name ?? 'unknown';
      return autonomic.replaceDevice(name, by, (req.body as ReplaceDeviceRequest).with, dryRun === true);
    },
  );
}
