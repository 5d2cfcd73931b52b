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

export class HttpArtifactSource implements ArtifactSource {
  readonly #o: HttpSourceOptions;

  constructor(options: HttpSourceOptions) {
    this.#o = options;
  }

  async download(manifest: ArtifactManifest, file: string, offset: number, signal: AbortSignal): Promise<void> {
    const { apiUrl, deviceId, token } = this.#o;
    const headers: Record<string, string> = {
      authorization: `Basic ${Buffer.from(`${deviceId}:${token}`).toString('base64')}`,
    };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const url = `${apiUrl.replace(/\/$/, '')}/api/v1/blobs/${manifest.sha256}`;
    const res = await (this.#o.fetch ?? fetch)(url, { headers, signal });
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
