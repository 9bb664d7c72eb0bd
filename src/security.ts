// What every answer carries for a hostile world: the request id (the client's own x-request-id
// when it is sane, else one made here), security headers (@fastify/helmet's, computed once), CORS
// when configured (@fastify/cors, off by default), and an optional per-client rate limit
// (@fastify/rate-limit, off by default).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import fastifyCors from '@fastify/cors';
import fastifyRateLimit from '@fastify/rate-limit';
import { ServeError } from './errors.js';

/** A client's x-request-id that is echoed and logged as is: 1–128 visible ASCII characters (no spaces, no controls). */
const SANE_REQUEST_ID = /^[!-~]{1,128}$/;

/** fastify's genReqId: the client's x-request-id when sane (so its logs and ours join), else a fresh UUID. */
export function requestId(req: IncomingMessage): string {
  const id = req.headers['x-request-id'];
  return typeof id === 'string' && SANE_REQUEST_ID.test(id) ? id : randomUUID();
}

/**
 * The API's CSP: its answers are JSON and text, never a page, so nothing may load or frame them.
 * /docs (Swagger UI) sets its own, DOCS_CSP.
 */
const API_CSP = { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } };

/**
 * Swagger UI's page: its scripts, styles and the spec all come from this server (no CDN); it
 * sets inline style attributes and uses data: images. No upgrade-insecure-requests: the server
 * speaks plain HTTP, and upgrading its own assets to https would break the page off localhost.
 */
export const DOCS_CSP =
  "default-src 'self'; base-uri 'self'; connect-src 'self'; font-src 'self' data:; form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'";

/** Headers a browser may read on a cross-origin answer: the request id, a 429's wait, and the v2 binary extension's JSON length. */
const EXPOSED_HEADERS = ['x-request-id', 'retry-after', 'inference-header-content-length'];

export interface SecurityOptions {
  /** Origins allowed by CORS ('*' for any); empty: CORS off, no Access-Control-* header is sent. */
  corsOrigins: readonly string[];
  /** At most `max` requests per client IP per `windowMs`; undefined: no limit. */
  rateLimit: { max: number; windowMs: number } | undefined;
}

/** Routes a rate limit never applies to: Kubernetes probes and Prometheus scrapes come often and from one address. */
export function rateLimitExempt(url: string): boolean {
  return url.startsWith('/v2/health/') || url === '/metrics';
}

/**
 * helmet's headers for the API, taken once from a throwaway instance: @fastify/helmet itself
 * rebuilds every header value on each request in two onRequest hooks. Measured with client and
 * server in one process, builds interleaved: a seed-mlp predict took 257 µs without headers,
 * 303 µs with the plugin (+18 %), 270-278 µs with these values set from a frozen object (+3-7 %,
 * mostly the headers' own bytes). HSTS is left out:
 * it is for whoever terminates TLS (this server speaks plain HTTP), and a max-age from here
 * would bind every service of the host name to https for a year.
 */
export async function securityHeaders(): Promise<Readonly<Record<string, string>>> {
  const plain = Fastify({ logger: false });
  plain.get('/', async () => '');
  const helmeted = Fastify({ logger: false });
  await helmeted.register(fastifyHelmet, { contentSecurityPolicy: API_CSP, hsts: false });
  helmeted.get('/', async () => '');
  const [without, withHelmet] = await Promise.all([plain.inject('/'), helmeted.inject('/')]);
  await Promise.all([plain.close(), helmeted.close()]);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(withHelmet.headers)) if (!(k in without.headers) && typeof v === 'string') headers[k] = v;
  return Object.freeze(headers);
}

/**
 * Registers CORS and the rate limit on the root instance, and answers the security headers that
 * the caller's onSend hook sets on every answer. Call before any route: the plugins hook routes
 * as they are added.
 */
export async function registerSecurity(app: FastifyInstance, opts: SecurityOptions): Promise<Readonly<Record<string, string>>> {
  const headers = await securityHeaders();
  if (opts.corsOrigins.length > 0) {
    const origin = opts.corsOrigins.includes('*') ? '*' : [...opts.corsOrigins];
    // strictPreflight off: an OPTIONS without the preflight headers gets a plain 204, never a non-catalogue 400
    await app.register(fastifyCors, { origin, methods: ['GET', 'HEAD', 'POST'], exposedHeaders: EXPOSED_HEADERS, strictPreflight: false, maxAge: 600 });
  }
  if (opts.rateLimit) {
    const { max, windowMs } = opts.rateLimit;
    // before the plugin's own onRoute hook: exempt routes get no rate-limit hook at all
    app.addHook('onRoute', (route) => {
      if (rateLimitExempt(route.url)) route.config = { ...route.config, rateLimit: false };
    });
    await app.register(fastifyRateLimit, {
      max,
      timeWindow: windowMs,
      // the catalogue's answer; the plugin has set Retry-After (seconds to the window's end) already
      errorResponseBuilder: (_request, context) =>
        new ServeError('RATE_LIMITED', `more than ${max} requests from this client within ${windowMs} ms; retry after ${context.after} (Retry-After)`),
    });
  }
  return headers;
}
