// Downloads an artifact from the hub over HTTP with the device's own credentials (HTTP Basic,
// the same name and token as its MQTT login), appending to the partial file from the byte it
// has: a `Range: bytes=N-` request, so an interrupted download resumes instead of starting over.

import { createWriteStream } from 'node:fs';
import { truncate } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ArtifactManifest } from '@homeostat/protocol';
import type { ArtifactSource } from './updater.js';

export interface HttpSourceOptions {
  /** The hub's HTTP base URL, e.g. http://hub:8080 */
  apiUrl: string;
  deviceId: string;
  token: string;
  fetch?: typeof fetch;
}

/** The device's credentials as the hub takes them over HTTP: Basic, as its MQTT login. */
function authorization(o: Pick<HttpSourceOptions, 'deviceId' | 'token'>): string {
  return `Basic ${Buffer.from(`${o.deviceId}:${o.token}`).toString('base64')}`;
}

function blobUrl(apiUrl: string, sha256: string): string {
  return `${apiUrl.replace(/\/$/, '')}/api/v1/blobs/${sha256}`;
}

/** A small file whole, in memory (a model); the caller checks its hash. */
export async function fetchBlob(options: HttpSourceOptions, sha256: string, signal?: AbortSignal): Promise<Uint8Array> {
  const res = await (options.fetch ?? fetch)(blobUrl(options.apiUrl, sha256), {
    headers: { authorization: authorization(options) },
    ...(signal ? { signal } : {}),
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`download of ${sha256}: HTTP ${res.status}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

export class HttpArtifactSource implements ArtifactSource {
  readonly #o: HttpSourceOptions;

  constructor(options: HttpSourceOptions) {
    this.#o = options;
  }

  async download(manifest: ArtifactManifest, file: string, offset: number, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = { authorization: authorization(this.#o) };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await (this.#o.fetch ?? fetch)(blobUrl(this.#o.apiUrl, manifest.sha256), { headers, signal });
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new Error(`download of ${manifest.name} ${manifest.version}: HTTP ${res.status}`);
    }
    // A server that ignores the range sends the whole file: start the partial file over.
    const from = res.status === 206 ? offset : 0;
    if (from === 0 && offset > 0) await truncate(file, 0);
    if (res.body === null) throw new Error(`download of ${manifest.name}: empty response`);
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(file, { flags: 'a' }), {
      signal,
    });
  }
}
