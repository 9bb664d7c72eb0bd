// How log lines look: JSON lines (pino's own format) for machines and files, and pino-pretty's
// coloured lines for a person at a terminal (fastify's own recommendation). Pure: the caller
// says whether stdout is a terminal.

/** The fastify `logger` option for the serve command. */
export function loggerOptions(level: string, stdoutIsTTY: boolean, env: NodeJS.ProcessEnv = process.env): object {
  // NODE_ENV=production (the Docker image) keeps JSON even on a terminal: its logs are collected
  if (!stdoutIsTTY || env.NODE_ENV === 'production') return { level };
  return { level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } } };
}
