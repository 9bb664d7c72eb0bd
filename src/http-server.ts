// The HTTP/1.1 server under fastify (its serverFactory): Node's http.Server with the slow-client
// timeouts, a close() that drains instead of resetting, and a way to answer a broken request
// after the answers of the requests pipelined before it.
//
// Why not Node's own close(): since Node 19 it destroys every idle kept-alive socket at once, and
// a request a client wrote on one just then (in the kernel's buffer, not yet read) turns the
// close into a TCP reset. Here close() only stops listening; each socket ends (FIN, never a
// reset) once it has no request in progress: after its next answer (sent with Connection:
// close), or after DRAIN_IDLE_MS without a request. The listener itself closes once the
// kernel's accept queue is empty (closing it resets the connections queued there).
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { acceptQueueLength } from './accept-queue.js';

export interface HttpTimeouts {
  /** Whole request, headers and body (Node's requestTimeout): a stalled body is cut (408) after it. */
  requestTimeoutMs: number;
  /** Request line and headers (Node's headersTimeout): a slowloris client is cut (408) after it. */
  headersTimeoutMs: number;
  /** A kept-alive socket with no request is closed after it (Node's keepAliveTimeout). */
  keepAliveTimeoutMs: number;
}

/** How often Node looks for requests past their timeout (its default is 30 s): the cut comes within this after the timeout. */
const TIMEOUT_CHECK_MS = 500;
/**
 * While draining, a kept-alive socket without a request is ended after this long idle: a client
 * that was about to reuse it gets an answer (503 SHUTTING_DOWN) instead of a closed socket.
 */
export const DRAIN_IDLE_MS = 500;
/**
 * The listener waits at most this for the kernel's accept queue to empty before it closes anyway:
 * under overload the main thread is seconds behind and the queue holds thousands of connections
 * that each wrote a request; accepted, each gets its 503 SHUTTING_DOWN cheaply, where closing
 * would reset them all. Clients that keep connecting keep it open up to this bound.
 */
const ACCEPT_QUEUE_WAIT_MS = 5000;
/** A socket this server has ended is destroyed after this if the client does not close its side. */
const LINGER_MS = 2000;
/**
 * A malformed request waits at most this for the answers of the requests pipelined before it:
 * the default deadline of a request in a model's queue (dynamicBatching.timeoutMs, 10 s), by
 * which each of them is computed or refused.
 */
const PIPELINED_WAIT_MS = 10_000;

interface Pending {
  req: IncomingMessage;
  res: ServerResponse;
}

interface Conn {
  socket: Socket;
  /** Requests on this socket whose answers are not written yet, in arrival order. */
  pending: Pending[];
  idleTimer: NodeJS.Timeout | undefined;
  /** Called when pending shrinks (an answer was written or the socket closed). */
  onSettle: (() => void) | undefined;
  /** Set once this server decided to close the socket (a parse error, a timeout, the drain). */
  closing: boolean;
}

const conns = new WeakMap<Socket, Conn>();

export class ServingHttpServer extends http.Server {
  private readonly all = new Set<Conn>();
  private draining = false;
  /** While the drain waits for the accept queue to empty: called after each connection accepted. */
  private onAccepted: (() => void) | undefined;

  constructor(handler: RequestListener, timeouts: HttpTimeouts) {
    super(
      {
        requestTimeout: timeouts.requestTimeoutMs,
        headersTimeout: timeouts.headersTimeoutMs,
        keepAliveTimeout: timeouts.keepAliveTimeoutMs,
        connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      },
      handler,
    );
    this.on('connection', (socket: Socket) => this.track(socket));
    // after fastify's handler (the first 'request' listener): tracking starts once it has the request
    this.on('request', (req: IncomingMessage, res: ServerResponse) => this.pend(req, res));
    // close() below skips Node's, which stops the timeout checks: they run on through the drain
    // (a stalled body is still cut), and stop here once the last socket has closed
    this.once('close', () => {
      const check = Object.getOwnPropertySymbols(this).find((s) => s.description === 'http.server.connectionsCheckingInterval');
      if (check) clearInterval((this as unknown as Record<symbol, NodeJS.Timeout>)[check]);
    });
  }

  /** Stops listening and drains: no socket is destroyed while a request is in progress on it. */
  override close(callback?: (err?: Error) => void): this {
    if (this.draining) {
      net.Server.prototype.close.call(this, callback);
      return this;
    }
    this.closeListener(callback);
    this.draining = true;
    for (const c of this.all) {
      for (const p of c.pending) if (!p.res.headersSent) p.res.shouldKeepAlive = false;
      if (c.pending.length === 0) this.endWhenIdle(c);
    }
    return this;
  }

  /**
   * Closes the listener once the kernel's accept queue is empty, looked at after each connection
   * accepted (if nothing is queued behind it, the accept pass ends here) and once a turn of the
   * event loop: the connections that arrive meanwhile are accepted and answered like the others,
   * 503 SHUTTING_DOWN. Clients that keep connecting keep it open, at most ACCEPT_QUEUE_WAIT_MS.
   */
  private closeListener(callback: ((err?: Error) => void) | undefined): void {
    const addr = this.address();
    const port = typeof addr === 'object' && addr ? addr.port : undefined;
    const family = typeof addr === 'object' && addr?.family === 'IPv6' ? 'IPv6' : 'IPv4';
    const until = Date.now() + ACCEPT_QUEUE_WAIT_MS;
    let closed = false;
    const attempt = (): void => {
      if (closed) return;
      const queued = port === undefined ? undefined : acceptQueueLength(port, family);
      if (queued && Date.now() < until) return;
      closed = true;
      this.onAccepted = undefined;
      clearInterval(turns);
      net.Server.prototype.close.call(this, callback);
    };
    const turns = setInterval(attempt, 0);
    this.onAccepted = attempt;
    attempt();
  }

  private track(socket: Socket): void {
    const c: Conn = { socket, pending: [], idleTimer: undefined, onSettle: undefined, closing: false };
    conns.set(socket, c);
    this.all.add(c);
    socket.once('close', () => {
      this.all.delete(c);
      clearTimeout(c.idleTimer);
      c.pending.length = 0;
      c.onSettle?.();
    });
    // accepted during the drain: it gets its chance at a request too
    if (this.draining) this.endWhenIdle(c);
    this.onAccepted?.();
  }

  private pend(req: IncomingMessage, res: ServerResponse): void {
    const c = conns.get(req.socket);
    if (!c) return;
    const p = { req, res };
    c.pending.push(p);
    clearTimeout(c.idleTimer);
    c.idleTimer = undefined;
    // Node then ends the socket after this answer, and the client learns not to reuse it
    if (this.draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      const i = c.pending.indexOf(p);
      if (i >= 0) c.pending.splice(i, 1);
      c.onSettle?.();
      // an answer sent kept-alive just before the drain: the socket gets the idle grace too
      if (this.draining && c.pending.length === 0 && !c.socket.destroyed) this.endWhenIdle(c);
    });
  }

  /**
   * Ends the socket after DRAIN_IDLE_MS with no request (bytes read meanwhile restart the wait: a
   * request may be arriving). The last look comes after a poll phase (setImmediate): timers run
   * before it, and under load a turn of the loop takes longer than the wait, so a request that
   * came during that turn is still in the kernel's buffer when the timer fires. Ended with it
   * unread, the socket would be reset.
   */
  private endWhenIdle(c: Conn): void {
    clearTimeout(c.idleTimer);
    const read = c.socket.bytesRead;
    c.idleTimer = setTimeout(() => {
      c.idleTimer = undefined;
      setImmediate(() => {
        if (c.pending.length > 0 || c.socket.destroyed || c.idleTimer) return;
        if (c.socket.bytesRead !== read) this.endWhenIdle(c);
        else endGracefully(c);
      });
    }, DRAIN_IDLE_MS);
  }
}

/** FIN, not a reset: what the client sends after it is still read (and dropped) until it closes too, or LINGER_MS. */
function endGracefully(c: Conn): void {
  c.closing = true;
  if (c.socket.writableEnded) return;
  c.socket.end();
  setTimeout(() => c.socket.destroy(), LINGER_MS).unref();
}

/**
 * Answers a request Node's parser refused (or that timed out) with `response` and closes the
 * socket, after the answers of the complete requests pipelined before it are written (at most
 * PIPELINED_WAIT_MS). Later calls for the same socket (the parser reports every further chunk)
 * do nothing.
 */
export function answerAndClose(socket: Socket, response: string): void {
  const c = conns.get(socket);
  if (!c) {
    // not one of ours (app.inject has no sockets; a plain http.Server in a test)
    if (socket.writable) socket.write(response);
    socket.destroy();
    return;
  }
  if (c.closing) return;
  c.closing = true;
  clearTimeout(c.idleTimer);
  const finish = (): void => {
    c.onSettle = undefined;
    clearTimeout(timer);
    if (socket.destroyed) return;
    // an answer already begun on the socket cannot be followed by another: the socket just ends
    const current = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (socket.writable && !current?.headersSent) socket.write(response);
    endGracefully(c);
  };
  // a request still incomplete when the parser failed never completes: its answer is not waited for
  const waiting = (): boolean => c.pending.some((p) => p.req.complete);
  const timer = setTimeout(finish, PIPELINED_WAIT_MS);
  timer.unref();
  if (!waiting()) return finish();
  c.onSettle = () => {
    if (!waiting()) finish();
  };
}

/** fastify's serverFactory: the serving HTTP server with these timeouts. */
export function httpServerFactory(timeouts: HttpTimeouts): (handler: RequestListener) => ServingHttpServer {
  return (handler) => new ServingHttpServer(handler, timeouts);
}
