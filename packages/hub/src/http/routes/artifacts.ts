// /api/v1/blobs and /api/v1/artifacts: update files, uploaded as raw bytes under their SHA-256,
// and their signed manifests. Devices download with their own credentials (HTTP Basic, device
// name and token, as over MQTT), with range requests so an interrupted download resumes.

import { join } from 'node:path';
import type { Readable } from 'node:stream';
import send from '@fastify/send';
import {
  ArtifactList,
  Artifact as ArtifactSchema,
  BlobInfo,
  ErrorResponse,
  HomeostatError,
  Name,
  routes,
  SHA256_PATTERN,
  SignedManifest,
} from '@homeostat/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const tags = ['artifacts'];
const Sha = Type.Object({ sha256: Type.String({ pattern: SHA256_PATTERN }) });

export async function artifactRoutes(app: FastifyInstance, { artifacts, clock }: HttpDeps): Promise<void> {
  // Raw bytes: the store streams them to disk, hashing as they come, under its own size limit.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.put(
    '/api/v1/blobs/:sha256',
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Upload a file (application/octet-stream) under its SHA-256',
        params: Sha,
        response: { 201: BlobInfo, ...errors },
      },
    },
    async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      if (!(req.body as Readable | undefined)?.pipe) {
        throw new HomeostatError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send the file as application/octet-stream');
      }
      return reply.status(201).send(await artifacts.putBlob(sha256, req.body as Readable));
    },
  );

  app.get(
    '/api/v1/blobs/:sha256',
    {
      config: { role: 'viewer', devices: true },
      schema: { tags, summary: 'Download a file; honours Range', params: Sha },
    },
    async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      const path = artifacts.blobPath(sha256);
      const result = await send(req.raw, path.slice(path.lastIndexOf('/') + 1), {
        root: join(path, '..'),
        acceptRanges: true,
        cacheControl: false,
        etag: true,
        lastModified: false,
      });
      if (result.type === 'error') {
        if (result.statusCode === 416) {
          throw new HomeostatError('ERR_RANGE_NOT_SATISFIABLE', `range ${req.headers.range ?? ''} is outside the file`);
        }
        throw new HomeostatError('ERR_BLOB_NOT_FOUND', `no file with sha256 ${sha256}`);
      }
      return reply
        .status(result.statusCode)
        .headers({ ...result.headers, 'content-type': 'application/octet-stream' })
        .send(result.stream);
    },
  );

  app.post(
    routes.artifacts,
    {
      config: { role: 'operator' },
      schema: {
        tags,
        summary: 'Push the signed manifest of an uploaded file',
        body: SignedManifest,
        response: { 200: ArtifactSchema, 201: ArtifactSchema, ...errors },
      },
    },
    async (req, reply) => {
      const { artifact, created } = await artifacts.putManifest(
        req.body as SignedManifest,
        req.principal?.name ?? '',
        clock.now(),
      );
      return reply.status(created ? 201 : 200).send(artifact);
    },
  );

  app.get(
    routes.artifacts,
    {
      config: { role: 'viewer', devices: true },
      schema: {
        tags,
        querystring: Type.Object({ name: Type.Optional(Name) }),
        response: { 200: ArtifactList, ...errors },
      },
    },
    async (req) => ({ items: await artifacts.list((req.query as { name?: string }).name) }),
  );

  app.get(
    '/api/v1/artifacts/:name',
    {
      config: { role: 'viewer', devices: true },
      schema: {
        tags,
        summary: 'Every version of one artifact',
        params: Type.Object({ name: Name }),
        response: { 200: ArtifactList, ...errors },
      },
    },
    async (req) => {
      const items = await artifacts.list((req.params as { name: string }).name);
      if (items.length === 0) throw new HomeostatError('ERR_ARTIFACT_NOT_FOUND', 'no artifact has this name');
      return { items };
    },
  );
}
