// Admission before the body is read (src/routes/early-admission.ts), against the real server: a
// v2 infer request that its model's queue would refuse is answered (503 on /v2, as Triton answers a
// full queue; 429 QUEUE_FULL elsewhere) while its body has not
// even been sent; a model whose requests name a variant in
// their bodies is judged only after the body, as the variant's queue may have room.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { makeRepo, startServer, postJson, waitUntil } from '../helpers/server.js';
import { mlpModel, seededFloats } from '../../tools/onnx-builder.js';

const MLP = mlpModel([8, 16, 2], 5);

/** Headers of a POST whose declared body is `length` bytes; the body is written by the caller, or never. */
function head(path: string, length: number): string {
  return `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;
}

/** Resolves with the first full HTTP answer's status line and body read on `s`, or undefined after `ms`. */
function answer(s: Socket, ms: number): Promise<{ status: number; text: string } | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    const timer = setTimeout(() => done(undefined), ms);
    const onData = (c: Buffer): void => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length >= end + 4 + len) done({ status: Number(buf.slice(9, 12)), text: buf.slice(0, end + 4 + len) });
    };
    const done = (v: { status: number; text: string } | undefined): void => {
      clearTimeout(timer);
      s.off('data', onData);
      resolve(v);
    };
    s.on('data', onData);
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

t.test('a request the queue would refuse is refused before its body is read', async (t) => {
  const repo = await makeRepo(t, {
    mlp: { onnx: MLP, config: { instances: 1, maxBatchSize: 4, dynamicBatching: { maxQueueDelayMs: 0, maxQueueSize: 1 }, variants: { alt: 'model.alt.onnx' } }, files: { 'model.alt.onnx': MLP } },
  });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const port = Number(new URL(served.url).port);
  const mv = served.app.serving.repository.resolve('mlp');
  const pool = mv.workerPool!;
  const body = (extra = ''): string => JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8], data: Array.from(seededFloats(8, 1)) }] }).replace(/}$/, `${extra}}`);
  const infer = (extra = ''): Promise<unknown> => postJson(`${served.url}/v2/models/mlp/infer`, JSON.parse(body(extra)));

  // one running (slowed), one queued: the queue (maxQueueSize 1) is full
  const fill = async (): Promise<Promise<unknown>[]> => {
    pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
    const running = infer();
    await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
    const queued = infer();
    await waitUntil(() => mv.scheduler!.depth === 1, 'one request is queued');
    return [running, queued];
  };

  let held = await fill();
  const s = await open(port);
  t.teardown(() => s.destroy());
  const started = Date.now();
  s.write(head('/v2/models/mlp/infer', 1_000_000)); // a megabyte announced, not one byte sent
  const refused = await answer(s, 3000);
  t.equal(refused?.status, 503, `refused with its body unsent, as /v2 answers a full queue (${refused?.text.slice(0, 120)})`);
  t.ok(Date.now() - started < 1000, `at once (${Date.now() - started} ms), not after the slowed run`);
  t.match(refused?.text, /retry-after: \d+/i, 'with Retry-After');
  t.match(refused?.text, /maxQueueSize/, 'saying which limit');
  await Promise.all(held);

  // a model whose bodies name a variant: the variant's queue may have room, so its requests are
  // judged after their bodies (here the variant is idle: the request is computed)
  await postJson(`${served.url}/v2/models/mlp/infer`, JSON.parse(body(',"parameters":{"variant":"alt"}')));
  held = await fill();
  const s2 = await open(port);
  t.teardown(() => s2.destroy());
  const full = body(',"parameters":{"variant":"alt"}');
  s2.write(head('/v2/models/mlp/infer', Buffer.byteLength(full)));
  t.equal(await answer(s2, 400), undefined, 'no answer before its body: it may be bound for the variant');
  s2.write(full);
  const viaVariant = await answer(s2, 5000);
  t.equal(viaVariant?.status, 200, 'its body named the idle variant: computed');
  await Promise.all(held);
});

t.test('/v1/predict: refused before its body only when every model version would refuse it', async (t) => {
  const repo = await makeRepo(t, { one: { onnx: MLP, config: { instances: 1, maxBatchSize: 4, dynamicBatching: { maxQueueDelayMs: 0, maxQueueSize: 1 } } } });
  const served = await startServer(t, repo, [], { faultHooks: true });
  const port = Number(new URL(served.url).port);
  const mv = served.app.serving.repository.resolve('one');
  const pool = mv.workerPool!;
  const body = JSON.stringify({ model: 'one', inputs: { input: [Array.from(seededFloats(8, 2))] } });
  const predict = (): Promise<unknown> => postJson(`${served.url}/v1/predict`, JSON.parse(body));
  pool.injectFault({ kind: 'delay-next-run', ms: 1500 });
  const running = predict();
  await waitUntil(() => pool.busyCount() === 1, 'the worker is busy');
  const queued = predict();
  await waitUntil(() => mv.scheduler!.depth === 1, 'one request is queued');
  const s = await open(port);
  t.teardown(() => s.destroy());
  s.write(head('/v1/predict', 1_000_000));
  const refused = await answer(s, 3000);
  t.equal(refused?.status, 429, `the only model's queue is full: 429 with the body unsent (${refused?.text.slice(0, 120)})`);
  t.match(refused?.text, /QUEUE_FULL/);
  await Promise.all([running, queued]);
  // with room again, the same request is read and computed
  const s2 = await open(port);
  t.teardown(() => s2.destroy());
  s2.write(head('/v1/predict', Buffer.byteLength(body)) + body);
  t.equal((await answer(s2, 5000))?.status, 200, 'computed once the queue has room');
});
