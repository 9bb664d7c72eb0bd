// Request bodies sent with Content-Encoding gzip or deflate: decoded as a stream before any body
// parser reads them (fastify's preParsing hook), with the DECODED size held to the body limit.
// A decompression bomb is cut off as soon as its output passes the limit (never held in memory
// whole, never inflated to the end), a corrupt stream is a 400 and an unknown coding a 415.
import { Readable } from 'node:stream';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { ServeError } from './errors.js';

export type BodyCoding = 'gzip' | 'deflate';

/**
 * The coding of a request body from its Content-Encoding header: undefined for none or
 * identity; a coding not served is UNSUPPORTED_ENCODING. One coding only: a chain of them
 * ("gzip, deflate") is refused too, as no client of the protocol sends one.
 */
export function bodyCoding(header: string | string[] | undefined): BodyCoding | undefined {
  if (header === undefined) return undefined;
  const v = (Array.isArray(header) ? header.join(',') : header).trim().toLowerCase();
  if (v === '' || v === 'identity') return undefined;
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'deflate') return 'deflate';
  throw new ServeError('UNSUPPORTED_ENCODING', `Content-Encoding "${v.slice(0, 64)}" is not served; send the body as is, or with Content-Encoding gzip or deflate`);
}

export function decodedTooLarge(limit: number): ServeError {
  return new ServeError('PAYLOAD_TOO_LARGE', `the body decodes to more than the limit of ${limit} bytes; send fewer rows per request or raise --body-limit`);
}

/**
 * The decoded body as a stream, started when first read. `receivedEncodedLength` is the
 * bytes received (fastify checks it against Content-Length). Errors are ServeErrors.
 */
export class DecodedBody extends Readable {
  receivedEncodedLength = 0;
  private decoded = 0;
  private inflater: Gunzip | Inflate | undefined;
  private readonly onSourceData = (chunk: Buffer): void => {
    this.receivedEncodedLength += chunk.length;
  };

  constructor(private readonly source: Readable, private readonly coding: BodyCoding, private readonly limit: number) {
    super();
  }

  override _read(): void {
    if (this.inflater) {
      this.inflater.resume();
      return;
    }
    const z = (this.inflater = this.coding === 'gzip' ? createGunzip() : createInflate());
    z.on('data', (chunk: Buffer) => {
      this.decoded += chunk.length;
      // past the limit: stop inflating now, whatever is left of the input
      if (this.decoded > this.limit) return this.fail(decodedTooLarge(this.limit));
      if (!this.push(chunk)) z.pause();
    });
    z.on('end', () => this.push(null));
    z.on('error', (err: Error) => {
      this.fail(new ServeError('INVALID_ENCODING', `the body is not valid ${this.coding} data (${err.message}); compress it again, or send it with no Content-Encoding`));
    });
    this.source.on('data', this.onSourceData);
    this.source.on('error', (err) => this.fail(err));
    this.source.pipe(z);
  }

  private fail(err: Error): void {
    if (this.destroyed) return;
    this.source.removeListener('data', this.onSourceData);
    if (this.inflater) {
      this.source.unpipe(this.inflater);
      this.inflater.destroy();
    }
    this.destroy(err);
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.inflater?.destroy();
    cb(err);
  }
}

/** Whether the request carries a body at all (a GET with a Content-Encoding header has nothing to decode). */
function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const len = headers['content-length'];
  return len !== undefined && len !== '0';
}

/** Registers the decoding on every route of `app` (call before the routes): the body limit applies to the decoded bytes. */
export function decodeRequestBodies(app: FastifyInstance, bodyLimit: number): void {
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if (request.headers['content-encoding'] === undefined || !hasBody(request.headers)) return done(null, payload);
    let coding: BodyCoding | undefined;
    try {
      coding = bodyCoding(request.headers['content-encoding']);
    } catch (err) {
      return done(err as Error);
    }
    if (coding === undefined) return done(null, payload);
    const limit = request.routeOptions.bodyLimit ?? bodyLimit;
    done(null, new DecodedBody(payload, coding, limit));
  });
}
