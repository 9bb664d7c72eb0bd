// A raw HTTP/1.1 client over node:net for what undici hides: pipelining, half-written
// requests, and telling a TCP reset from a clean close from an answer (tests and the bench's faults section).
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Why a request got no answer: the socket's error code (ECONNRESET, EPIPE…) or "closed" (a clean close). */
export class NoAnswer extends Error {
  constructor(readonly reason: string) {
    super(`no answer: ${reason}`);
  }
}

export class RawConnection {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiting: { resolve(a: RawAnswer): void; reject(e: NoAnswer): void }[] = [];
  /** The socket's error code, if it had one (ECONNRESET for a reset). */
  error: string | undefined;
  closed = false;
  /** The server said Connection: close: a well-behaved client sends nothing more here. */
  closeAnnounced = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.parse();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (this.error ??= e.code ?? e.message));
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(new NoAnswer(this.error ?? 'closed'));
    });
  }

  /** With `timeoutMs`, a connection not made by then is destroyed and rejects with code ETIMEDOUT. */
  static open(port: number, host = '127.0.0.1', timeoutMs?: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host });
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        s.destroy();
        reject(Object.assign(new Error(`no connection after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      const failed = (e: Error): void => {
        clearTimeout(timer);
        reject(e);
      };
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeListener('error', failed);
        resolve(new RawConnection(s));
      });
      s.once('error', failed);
    });
  }

  /** In flight: written and not answered yet. */
  get busy(): boolean {
    return this.waiting.length > 0;
  }

  /** Writes bytes that hold `answers` requests (pipelined if more than one); one promise per answer, in order. */
  send(bytes: string | Buffer, answers = 1): Promise<RawAnswer>[] {
    const out = Array.from({ length: answers }, () => new Promise<RawAnswer>((resolve, reject) => this.waiting.push({ resolve, reject })));
    if (this.closed) for (const w of this.waiting.splice(0)) w.reject(new NoAnswer(this.error ?? 'closed'));
    else this.socket.write(bytes);
    return out;
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1]);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      if (headers['transfer-encoding']) throw new Error('raw-http: chunked answers are not parsed here');
      const len = Number(headers['content-length'] ?? 0);
      if (this.buf.length < end + 4 + len) return;
      const body = this.buf.toString('utf8', end + 4, end + 4 + len);
      this.buf = this.buf.subarray(end + 4 + len);
      if (/close/i.test(headers.connection ?? '')) this.closeAnnounced = true;
      this.waiting.shift()?.resolve({ status, headers, body });
    }
  }
}

/** A POST with a JSON body, as raw bytes. */
export function rawPost(path: string, body: unknown, extraHeaders = ''): string {
  const text = JSON.stringify(body);
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extraHeaders}\r\n${text}`;
}
