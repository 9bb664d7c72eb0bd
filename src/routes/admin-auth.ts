// The admin routes' guard: a state-changing route (model load and unload, log settings) needs
// `Authorization: Bearer <token>` with the configured admin token. Without a configured token
// those routes are off (403), so a server started without one cannot be changed remotely.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { ServeError } from '../errors.js';

const HOW_TO_ENABLE = 'start the server with --admin-token, --admin-token-file PATH or ONNX_SERVE_ADMIN_TOKEN to enable them';

/** SHA-256 of the text: equal-length buffers for timingSafeEqual, whatever the lengths given. */
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * True when `given` is the token. Both sides are hashed first, so the comparison takes the same
 * time whatever the length or the first differing byte of what a client sends.
 */
export function tokenMatches(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token));
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S.*?)[ \t]*$/i.exec(header ?? '');
  return m?.[1];
}

/** Throws the answer an admin request gets when it may not pass: 403 off, 401 missing or wrong. */
export function checkAdmin(request: Pick<FastifyRequest, 'headers'>, token: string | undefined): void {
  if (token === undefined) throw new ServeError('ADMIN_DISABLED', `admin routes are off: no admin token is configured; ${HOW_TO_ENABLE}`);
  const given = bearerToken(request.headers.authorization);
  if (given === undefined) {
    throw new ServeError('UNAUTHORIZED', 'this admin route needs the header "Authorization: Bearer <token>" with the admin token', { 'www-authenticate': 'Bearer realm="onnx-serve"' });
  }
  if (!tokenMatches(given, token)) {
    throw new ServeError('UNAUTHORIZED', 'the bearer token in the Authorization header is not the admin token', {
      'www-authenticate': 'Bearer realm="onnx-serve", error="invalid_token"',
    });
  }
}

/** An onRequest hook: runs before the body is read, so a refused request costs no parsing. */
export function adminOnly(token: () => string | undefined): onRequestHookHandler {
  return (request, _reply, done) => {
    try {
      checkAdmin(request, token());
      done();
    } catch (err) {
      done(err as Error);
    }
  };
}
