// A tiny KServe-v2-shaped HTTP server for load runner tests, in process on 127.0.0.1:0: model
// metadata for one FP32 [-1, 4] input, and /v1/predict + /v2/models/stub/infer that answer at
// once, except as told: stall once for stallMs at the Nth request (every request arriving in the
// stall waits until it ends: a GC pause or a blocked event loop seen from outside), answer 500
// every Kth request, never answer every Jth one (the client's timeout has to end it), or
// answer 503 beyond a capacity per second.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubOptions {
  stallAtRequest?: number;
  stallMs?: number;
  failEvery?: number;
  hangEvery?: number;
  /** Answer 503 to requests beyond this many in the last second (a server at its capacity). */
  capacityPerS?: number;
}

export interface Stub {
  url: string;
  /** Inference requests seen. */
  requests(): number;
  close(): Promise<void>;
}

const METADATA = JSON.stringify({ name: 'stub', versions: ['1'], platform: 'test', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }] });

export async function startStub(o: StubOptions = {}): Promise<Stub> {
  let n = 0;
  let stallUntil = 0;
  const recent: number[] = [];
  const hung = new Set<ServerResponse>();
  const answer = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/v2/models/stub') return answer(res, 200, METADATA);
    if (req.method === 'GET') return answer(res, 404, '{"error":"no model; available: stub"}');
    req.resume();
    req.on('end', () => {
      const i = ++n;
      const now = Date.now();
      if (o.stallAtRequest === i) stallUntil = now + (o.stallMs ?? 200);
      if (o.hangEvery && i % o.hangEvery === 0) return void hung.add(res);
      if (o.capacityPerS !== undefined) {
        while (recent.length && recent[0]! <= now - 1000) recent.shift();
        recent.push(now);
        if (recent.length > o.capacityPerS) return answer(res, 503, '{"error":{"code":"QUEUE_FULL","message":"over capacity"}}');
      }
      const reply = (): void => (o.failEvery && i % o.failEvery === 0 ? answer(res, 500, '{"error":{"code":"INTERNAL","message":"injected"}}') : answer(res, 200, '{"outputs":{"y":[[0.5]]}}'));
      if (now < stallUntil) setTimeout(reply, stallUntil - now);
      else reply();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => n,
    close: async () => {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
