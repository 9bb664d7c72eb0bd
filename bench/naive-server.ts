// The naive baseline: the server a Node developer writes by hand in an afternoon. One Fastify
// route, one onnxruntime session with its default options on the main thread, `session.run` per
// request (no batching, no workers, no queue limits); same request and answer shape as
// onnx-serve's /v1/predict for a single 2-D float32 input, so the bench drives both alike.
// Usage: node dist/bench/naive-server.js MODEL.onnx [HOST] [PORT]; prints "naive listening on URL".
import Fastify from 'fastify';
import * as ort from 'onnxruntime-node';
import { serveUntilSignalled } from './child-app.js';

const [modelPath, host = '127.0.0.1', portText = '0'] = process.argv.slice(2);
if (!modelPath) {
  console.error('usage: naive-server MODEL.onnx [HOST] [PORT]');
  process.exit(2);
}
const session = await ort.InferenceSession.create(modelPath);
const inputName = session.inputNames[0]!;

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.post('/v1/predict', async (request, reply) => {
  const body = request.body as { inputs?: Record<string, number[][]> } | null;
  const rows = body?.inputs?.[inputName];
  if (!Array.isArray(rows) || !Array.isArray(rows[0])) return reply.code(400).send({ error: `inputs.${inputName} must be a 2-D array` });
  const width = rows[0].length;
  const out = await session.run({ [inputName]: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, width]) });
  const outputs: Record<string, number[][]> = {};
  for (const [name, t] of Object.entries(out)) {
    const data = t.data as Float32Array;
    const w = data.length / rows.length;
    outputs[name] = Array.from({ length: rows.length }, (_, i) => Array.from(data.subarray(i * w, (i + 1) * w)));
  }
  return { outputs };
});

await serveUntilSignalled(app, 'naive', host, Number(portText));
