// Memory under overload: the bytes of request bodies being read (and held until their answers)
// at once are bounded. Each request with a body reserves its Content-Length (the body limit for
// a chunked one, whose length is unknown) when its headers arrive and frees it when its answer
// is done or its client goes away; one that would pass the bound is refused before its body is
// read (503 SERVER_BUSY, Retry-After 1). Slow clients that each send most of a large body and
// stall can otherwise hold memory without limit until their request timeout.
import type { FastifyInstance } from 'fastify';
import { ServeError } from './errors.js';

export function limitBodiesInFlight(app: FastifyInstance, capBytes: number, bodyLimit: number): void {
  let inFlight = 0;
  // a callback hook, not async: no promise per request
  app.addHook('onRequest', (request, reply, done) => {
    const length = request.headers['content-length'];
    const chunked = request.headers['transfer-encoding'] !== undefined;
    if (length === undefined && !chunked) return done();
    // over the body limit it is refused (413) once read: it reserves no more than the limit meanwhile
    const bytes = length !== undefined ? Math.min(Number(length) || 0, bodyLimit) : bodyLimit;
    if (bytes <= 0) return done();
    // the first body always goes: a bound below one body would refuse every request
    if (inFlight > 0 && inFlight + bytes > capBytes) {
      return done(
        new ServeError('SERVER_BUSY', `the server is reading ${Math.round(inFlight / 1024)} KiB of request bodies, its bound (--max-body-bytes-in-flight ${Math.round(capBytes / 1024)} KiB) leaves no room for this one's ${Math.round(bytes / 1024)} KiB; retry after Retry-After`, { 'retry-after': '1' }),
      );
    }
    inFlight += bytes;
    reply.raw.once('close', () => {
      inFlight -= bytes;
    });
    done();
  });
}
