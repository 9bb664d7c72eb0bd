// The baseline for the HTTP path: a minimal Fastify 5 app whose POST /v1/predict only parses
// the JSON body (Fastify's own parser, as onnx-serve uses) and answers {"ok":true}.
// Usage: node dist/bench/bare-fastify.js [HOST] [PORT]; prints "bare-fastify listening on URL".
import Fastify from 'fastify';
import { serveUntilSignalled } from './child-app.js';

const host = process.argv[2] ?? '127.0.0.1';
const port = Number(process.argv[3] ?? 0);

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.post('/v1/predict', async (request) => {
  // the body is parsed before the handler runs; touch it so the work cannot be skipped
  const body = request.body as { inputs?: unknown } | null;
  return { ok: body !== null && typeof body === 'object' && body.inputs !== undefined };
});

await serveUntilSignalled(app, 'bare-fastify', host, port);
