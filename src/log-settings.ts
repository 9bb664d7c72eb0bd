// Triton's log settings (the logging extension, GET/POST /v2/logging) over pino's one level.
// pino has a threshold, Triton has switches (log_info, log_warnings, log_errors) and a verbose
// level: a POST's switches are folded into the lowest level they enable, and every answer shows
// the switches that level means. `log_level` (pino's own name) may be given instead. Pure.
import { ServeError } from './errors.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSettings {
  /** Always "": log lines go to stdout (collected by the container runtime). */
  log_file: string;
  log_info: boolean;
  log_warnings: boolean;
  log_errors: boolean;
  /** 0: no verbose lines; 1: pino's debug; 2 or more: trace. */
  log_verbose_level: number;
  /** Always "default": JSON lines (or pino-pretty on a terminal). */
  log_format: string;
  /** pino's level, the one thing these settings change. */
  log_level: string;
}

const RANK: Record<string, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, silent: 6 };

export function settingsOf(level: string): LogSettings {
  const r = RANK[level] ?? RANK.info!;
  return {
    log_file: '',
    log_info: r <= RANK.info!,
    log_warnings: r <= RANK.warn!,
    log_errors: r <= RANK.error!,
    log_verbose_level: r === RANK.trace ? 2 : r === RANK.debug ? 1 : 0,
    log_format: 'default',
    log_level: level,
  };
}

const KEYS = ['log_file', 'log_info', 'log_warnings', 'log_errors', 'log_verbose_level', 'log_format', 'log_level'];

/** The level a POST body asks for, from the current one; throws INVALID_LOG_SETTINGS naming the bad key. */
export function levelAfter(current: string, body: unknown): string {
  const bad = (msg: string): never => {
    throw new ServeError('INVALID_LOG_SETTINGS', msg);
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('send a JSON object of log settings, e.g. {"log_verbose_level": 1} or {"log_level": "debug"}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!KEYS.includes(k)) bad(`unknown log setting "${k}"; allowed: ${KEYS.join(', ')}`);
  for (const k of ['log_info', 'log_warnings', 'log_errors']) {
    if (b[k] !== undefined && typeof b[k] !== 'boolean') bad(`"${k}" is ${JSON.stringify(b[k])}; use true or false`);
  }
  const v = b.log_verbose_level;
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)) bad(`"log_verbose_level" is ${JSON.stringify(v)}; use an integer from 0`);
  if (b.log_file !== undefined && b.log_file !== '') bad(`"log_file" is ${JSON.stringify(b.log_file)}; only "" is allowed: log lines go to stdout`);
  if (b.log_format !== undefined && b.log_format !== 'default') bad(`"log_format" is ${JSON.stringify(b.log_format)}; only "default" is allowed (JSON lines)`);
  if (b.log_level !== undefined) {
    if (typeof b.log_level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(b.log_level)) bad(`"log_level" is ${JSON.stringify(b.log_level)}; use one of ${LOG_LEVELS.join(', ')}`);
    if (['log_info', 'log_warnings', 'log_errors', 'log_verbose_level'].some((k) => b[k] !== undefined)) bad('give "log_level" or the switches (log_info, log_warnings, log_errors, log_verbose_level), not both');
    return b.log_level as string;
  }
  const now = settingsOf(current);
  const want = {
    info: (b.log_info as boolean | undefined) ?? now.log_info,
    warnings: (b.log_warnings as boolean | undefined) ?? now.log_warnings,
    errors: (b.log_errors as boolean | undefined) ?? now.log_errors,
    verbose: (v as number | undefined) ?? now.log_verbose_level,
  };
  // nothing changes: keep the level (fatal and silent read the same switches)
  if (want.info === now.log_info && want.warnings === now.log_warnings && want.errors === now.log_errors && want.verbose === now.log_verbose_level) return current;
  if (want.verbose >= 2) return 'trace';
  if (want.verbose === 1) return 'debug';
  if (want.info) return 'info';
  if (want.warnings) return 'warn';
  if (want.errors) return 'error';
  return 'silent';
}
