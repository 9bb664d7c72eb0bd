// Triton's logging extension under /v2: GET /v2/logging reads the log settings (open), POST
// changes them (admin token): the server's pino level, which every logger of the app follows
// (request loggers are children made per request, the repository's lines go through app.log).
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { adminOnly } from './admin-auth.js';
import { jsonObject } from './repository.js';
import { levelAfter, settingsOf, type LogSettings } from '../log-settings.js';
import { v2Error } from '../openapi.js';

const tags = ['model-repository'];
const adminHeaders = { type: 'object', properties: { authorization: { type: 'string', description: '`Bearer <admin token>`' } } };

export async function loggingRoutes(app: FastifyInstance): Promise<void> {
  const admin = adminOnly(() => app.serving.admin.token);
  const settings = { type: 'object', additionalProperties: true, properties: Object.fromEntries(Object.entries(settingsOf('info')).map(([k, v]) => [k, { type: typeof v === 'number' ? 'integer' : typeof v }])) };
  app.get('/logging', { schema: { summary: 'Log settings', description: "Triton's log settings, read from the server's log level. Needs no token.", tags, response: { 200: { description: 'The settings.', ...settings }, '4xx': v2Error('A path or method nobody serves.') } } }, async () =>
    settingsOf(app.log.level),
  );
  app.post(
    '/logging',
    {
      onRequest: admin,
      schema: {
        summary: 'Change the log settings',
        description:
          'Triton\'s switches (`log_info`, `log_warnings`, `log_errors`, `log_verbose_level`: 1 is debug, 2 trace) set the lowest level they enable, or `log_level` names one of trace, debug, info, warn, error, fatal, silent. Answers every setting. Needs the admin token.',
        tags,
        headers: adminHeaders,
        response: {
          200: { description: 'The settings now.', ...settings },
          400: v2Error('An unknown setting or a bad value.'),
          401: v2Error('No `Authorization: Bearer <token>`, or not the admin token (WWW-Authenticate: Bearer).'),
          403: v2Error('Admin routes are off: no admin token configured.'),
        },
      },
      config: { openapiBody: { description: 'The settings to change.', ...settings } },
    },
    async (request) => applyLogSettings(app.log, jsonObject(request.body, 'an object of log settings, e.g. {"log_verbose_level": 1}')),
  );
}

/** Sets the app's level from a settings body (HTTP's or gRPC's); answers the settings now. */
export function applyLogSettings(log: FastifyBaseLogger, body: Record<string, unknown>): LogSettings {
  const before = log.level;
  const level = levelAfter(before, body);
  if (level !== before) {
    log.level = level;
    // at warn, so that the change shows at every level but error and silent
    log.warn({ from: before, to: level }, 'log level changed');
  }
  return settingsOf(level);
}
