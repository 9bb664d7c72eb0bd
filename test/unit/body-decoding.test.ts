// Request body decoding (src/body-decoding.ts): the Content-Encoding header's codings, and the
// decoding stream: gzip and deflate decoded, the decoded size held to the limit (a bomb stops
// early), corrupt data an INVALID_ENCODING error, the encoded bytes counted.
import t from 'tap';
import { Readable } from 'node:stream';
import { gzipSync, deflateSync } from 'node:zlib';
import { DecodedBody, bodyCoding } from '../../src/body-decoding.js';
import { ServeError } from '../../src/errors.js';

async function drain(s: Readable): Promise<{ body?: Buffer; err?: ServeError }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of s) chunks.push(c as Buffer);
    return { body: Buffer.concat(chunks) };
  } catch (err) {
    return { err: err as ServeError };
  }
}

/** A source that yields `buf` in chunks of `size` bytes and counts how much of it was read. */
function source(buf: Buffer, size = 16 * 1024): Readable & { read_: number } {
  let at = 0;
  const s = new Readable({
    read() {
      if (at >= buf.length) return void this.push(null);
      const c = buf.subarray(at, at + size);
      at += c.length;
      s.read_ = at;
      this.push(c);
    },
  }) as Readable & { read_: number };
  s.read_ = 0;
  return s;
}

t.test('Content-Encoding: gzip, x-gzip, deflate; identity and none are no decoding; others 415', async (t) => {
  t.equal(bodyCoding(undefined), undefined);
  t.equal(bodyCoding('identity'), undefined);
  t.equal(bodyCoding('GZIP'), 'gzip');
  t.equal(bodyCoding(' x-gzip '), 'gzip');
  t.equal(bodyCoding('deflate'), 'deflate');
  for (const bad of ['br', 'zstd', 'gzip, deflate', 'compress']) {
    try {
      bodyCoding(bad);
      t.fail(bad);
    } catch (err) {
      t.equal((err as ServeError).code, 'UNSUPPORTED_ENCODING', bad);
      t.equal((err as ServeError).status, 415);
      t.match((err as ServeError).message, /send the body as is, or with Content-Encoding gzip or deflate/);
    }
  }
});

t.test('decodes gzip and deflate, counting the encoded bytes', async (t) => {
  const text = Buffer.from(JSON.stringify({ inputs: Array.from({ length: 2000 }, (_, i) => i) }));
  for (const [coding, enc] of [['gzip', gzipSync(text)], ['deflate', deflateSync(text)]] as const) {
    const d = new DecodedBody(source(enc, 100), coding, 1 << 20);
    const { body, err } = await drain(d);
    t.equal(err, undefined, coding);
    t.ok(body?.equals(text), `${coding}: the body, decoded`);
    t.equal(d.receivedEncodedLength, enc.length, `${coding}: encoded bytes counted`);
  }
});

t.test('a bomb: stops at the limit with PAYLOAD_TOO_LARGE, without reading or inflating the rest', async (t) => {
  // 1 GiB of zeros in about 1 MB: 64 gzip members of 16 MiB each (one stream to gunzip); large
  // enough that the streams' read-ahead (64 KiB buffers on Node 22, 16 KiB on 20) stays a small part
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024));
  const bomb = Buffer.concat(Array.from({ length: 64 }, () => member));
  const src = source(bomb, 1024);
  const d = new DecodedBody(src, 'gzip', 1024 * 1024);
  const { err } = await drain(d);
  t.equal(err?.code, 'PAYLOAD_TOO_LARGE');
  t.match(err?.message, /decodes to more than the limit of 1048576 bytes/);
  t.ok(src.read_ < bomb.length / 4, `read ${src.read_} of ${bomb.length} encoded bytes`);
  t.ok(d.destroyed);
});

t.test('corrupt or truncated data: INVALID_ENCODING', async (t) => {
  const enc = gzipSync(Buffer.from('{"inputs": []}'));
  for (const [what, bad] of [['not gzip', Buffer.from('{"plain": "json"}')], ['truncated', enc.subarray(0, enc.length - 6)], ['flipped', Buffer.concat([enc.subarray(0, 12), Buffer.from([0xff, 0xff]), enc.subarray(14)])]] as const) {
    const { err } = await drain(new DecodedBody(source(bad), 'gzip', 1 << 20));
    t.equal(err?.code, 'INVALID_ENCODING', what);
    t.equal(err?.status, 400);
  }
  const { err } = await drain(new DecodedBody(source(Buffer.from('nope')), 'deflate', 1 << 20));
  t.equal(err?.code, 'INVALID_ENCODING', 'deflate');
});
