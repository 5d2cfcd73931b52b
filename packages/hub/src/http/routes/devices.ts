// /api/v1/devices: thin translation to the device service.

import {
  CreateDeviceRequest,
  Device,
  DeviceCredentials,
  DeviceList,
  DeviceModuleList,
  ErrorResponse,
  Name,
  PatchDesiredRequest,
  PutDeviceRequest,
  routes,
  TelemetryBuckets,
  TelemetryQuery,
  TelemetrySeries,
} from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

const NameParams = Type.Object({ name: Name });
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const tags = ['devices'];

export async function deviceRoutes(app: FastifyInstance, { devices }: HttpDeps): Promise<void> {
  app.get(
    routes.devices,
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary: 'List devices, optionally by label selector',
        querystring: Type.Object({
          selector: Type.Optional(Type.String({ description: 'e.g. site=paris,model!=m1' })),
        }),
        response: { 200: DeviceList, ...errors },
      },
    },
    async (req) => ({ items: await devices.list((req.query as { selector?: string }).selector) }),
  );

  app.post(
    routes.devices,
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Create a device; the answer carries its token, shown this once',
        body: CreateDeviceRequest,
        response: { 201: DeviceCredentials, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await devices.create(req.body as CreateDeviceRequest)),
  );

  app.get(
    '/api/v1/devices/:name',
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary: 'One device: labels, twin, liveness',
        params: NameParams,
        response: { 200: Device, ...errors },
      },
    },
    async (req) => devices.get((req.params as { name: string }).name),
  );

  app.put(
    '/api/v1/devices/:name',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Create (201, with its token) or update the labels of (200) a device',
        params: NameParams,
        body: PutDeviceRequest,
        response: { 200: Device, 201: DeviceCredentials, ...errors },
      },
    },
    async (req, reply) => {
      const r = await devices.put((req.params as { name: string }).name, req.body as PutDeviceRequest);
      return r.created ? reply.status(201).send({ device: r.device, token: r.token }) : reply.send(r.device);
    },
  );

  app.delete(
    '/api/v1/devices/:name',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Delete a device and close its connection',
        params: NameParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await devices.delete((req.params as { name: string }).name);
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/devices/:name/token',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Rotate the device token; the old one stops working',
        params: NameParams,
        response: { 200: DeviceCredentials, ...errors },
      },
    },
    async (req) => devices.rotateToken((req.params as { name: string }).name),
  );

  app.patch(
    '/api/v1/devices/:name/twin/desired',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Merge-patch the desired state, based on its current version (409 when stale)',
        params: NameParams,
        body: PatchDesiredRequest,
        response: { 200: Device, ...errors },
      },
    },
    async (req) => {
      const body = req.body as PatchDesiredRequest;
      return devices.patchDesired((req.params as { name: string }).name, body.version, body.state);
    },
  );

  app.get(
    '/api/v1/devices/:name/telemetry',
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary:
          'Readings of one metric in a time range (default: the last hour): the newest `limit` points, or with `step` or `maxPoints` buckets from the raw readings or the minute or hour rollups',
        params: NameParams,
        querystring: TelemetryQuery,
        response: { 200: Type.Union([TelemetrySeries, TelemetryBuckets]), ...errors },
      },
    },
    async (req) => devices.telemetry((req.params as { name: string }).name, req.query as TelemetryQuery),
  );

  app.get(
    '/api/v1/devices/:name/modules',
    {
      config: { role: 'viewer' },
      schema: {
        tags,
        summary: 'The modules of one device: desired (rev, deployment) and reported (rev, state) side by side',
        params: NameParams,
        response: { 200: DeviceModuleList, ...errors },
      },
    },
    async (req) => devices.modules((req.params as { name: string }).name),
  );
}
