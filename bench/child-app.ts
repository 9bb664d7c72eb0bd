// What every baseline server the bench spawns does after building its Fastify app: listen, print
// the "LABEL listening on URL" line servers.ts waits for, and close on SIGTERM or SIGINT.
import type { FastifyInstance } from 'fastify';

export async function serveUntilSignalled(app: FastifyInstance, label: string, host: string, port: number): Promise<void> {
  await app.listen({ host, port });
  const addr = app.server.address();
  console.log(`${label} listening on http://${host}:${typeof addr === 'object' && addr ? addr.port : port}`);
  const stop = (): void => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
