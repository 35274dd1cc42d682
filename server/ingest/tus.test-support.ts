/**
 * A small tus 1.0.0 client over raw HTTP for tests: create an upload, send PATCH chunks at
 * offsets, ask the offset with HEAD. Raw, so tests can do what a well-behaved client would not
 * (replay a chunk, lie about the length, cut a connection mid-PATCH).
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';

export const TUS_VERSION = '1.0.0';

export function uploadMetadata(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export class TusClient {
  readonly base: string;
  readonly token: string;

  constructor(base: string, token: string) {
    this.base = base;
    this.token = token;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'tus-resumable': TUS_VERSION, ...(this.token === '' ? {} : { authorization: `Bearer ${this.token}` }), ...extra };
  }

  /** POST /v1/uploads/ with Upload-Length and metadata; the upload's absolute URL. */
  async create(length: number, metadata: Record<string, string>): Promise<Response> {
    return fetch(new URL('/v1/uploads/', this.base), { method: 'POST', headers: this.headers({ 'upload-length': String(length), 'upload-metadata': uploadMetadata(metadata) }) });
  }

  async createOk(length: number, metadata: Record<string, string>): Promise<string> {
    const response = await this.create(length, metadata);
    if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
    return new URL(response.headers.get('location')!, new URL('/v1/uploads/', this.base)).pathname;
  }

  patch(path: string, offset: number, chunk: Uint8Array): Promise<Response> {
    return fetch(new URL(path, this.base), {
      method: 'PATCH',
      headers: this.headers({ 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }),
      body: new Uint8Array(chunk),
    });
  }

  async offset(path: string): Promise<number> {
    const response = await fetch(new URL(path, this.base), { method: 'HEAD', headers: this.headers() });
    if (response.status !== 200) throw new Error(`HEAD ${path}: ${response.status}`);
    return Number(response.headers.get('upload-offset'));
  }

  /** Sends `bytes` from `from` in chunks; the last PATCH's response. */
  async send(path: string, bytes: Uint8Array, from = 0, chunkSize = 64 * 1024): Promise<Response> {
    let offset = from;
    for (;;) {
      const end = Math.min(bytes.length, offset + chunkSize);
      const response = await this.patch(path, offset, bytes.subarray(offset, end));
      if (end === bytes.length || response.status !== 204) return response;
      offset = Number(response.headers.get('upload-offset'));
    }
  }

  /** The whole upload: create, then every chunk. */
  async upload(bytes: Uint8Array, sessionId: string, chunkSize?: number): Promise<Response> {
    const path = await this.createOk(bytes.length, { sessionId, sha256: sha256Hex(bytes) });
    return this.send(path, bytes, 0, chunkSize);
  }

  /**
   * A PATCH whose connection is cut after `sent` of the chunk's bytes went out (the client
   * announced the whole chunk's length): what a dropped network does mid-upload.
   */
  cutPatch(path: string, offset: number, chunk: Uint8Array, sent: number): Promise<void> {
    return new Promise((resolve) => {
      const url = new URL(path, this.base);
      const req = httpRequest(url, {
        method: 'PATCH',
        headers: this.headers({ 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'content-length': String(chunk.length) }),
      });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.write(chunk.subarray(0, sent), () => {
        // Let the bytes reach the service before the connection drops.
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 200);
      });
    });
  }
}
