// @ts-check
// The Debian binaries that the system tests (test/system/*.test.ts, `npm run test:system`) run,
// resolved in one place for the tests and for test/system/preflight.js, which checks them before
// anything is compiled. Plain JS (like load/lib/*.js) so that node runs it from the source tree and
// tsc compiles it beside the tests. Each path can be overridden by the environment variable of the
// same name (NGINX, PROMTOOL, PROMETHEUS, CHROMIUM).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Debian's nginx (CI installs it with apt-get); nginx on PATH otherwise. */
export const NGINX = process.env.NGINX || (isExecutable('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');
/** promtool, from Debian's prometheus package. */
export const PROMTOOL = process.env.PROMTOOL || '/usr/bin/promtool';
/** Debian's Prometheus server. */
export const PROMETHEUS = process.env.PROMETHEUS || '/usr/bin/prometheus';
/** Headless Chromium that renders Swagger UI at /docs. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * @typedef {{ name: string, path: string, apt: string }} Binary
 * `name` as the message says it, `path` as the tests spawn it (a bare name is looked up on PATH),
 * `apt` the Debian package that provides it.
 */
/** @type {readonly Binary[]} */
export const BINARIES = [
  { name: 'nginx', path: NGINX, apt: 'nginx' },
  { name: 'promtool', path: PROMTOOL, apt: 'prometheus' },
  { name: 'prometheus', path: PROMETHEUS, apt: 'prometheus' },
  { name: 'chromium', path: CHROMIUM, apt: 'chromium' },
];

/**
 * @param {string} file
 * @returns {boolean}
 */
function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether spawn(path) would find an executable: a path with a slash as it is, a bare name on PATH.
 * @param {string} path
 * @returns {boolean}
 */
export function found(path) {
  if (path.includes('/')) return isExecutable(path);
  return (process.env.PATH || '').split(delimiter).some((dir) => dir !== '' && isExecutable(join(dir, path)));
}

/**
 * The one line that says what to install, or undefined when every binary is there.
 * @param {readonly Binary[]} [binaries]
 * @returns {string | undefined}
 */
export function missingLine(binaries = BINARIES) {
  const missing = binaries.filter((b) => !found(b.path));
  if (missing.length === 0) return undefined;
  const where = missing.map((b) => (b.path === 'nginx' ? '/usr/sbin/nginx or nginx on PATH' : b.path));
  const apt = [...new Set(missing.map((b) => b.apt))];
  return `test:system needs ${missing.map((b) => b.name).join(', ')} (not found: ${where.join(', ')}): apt-get install -y ${apt.join(' ')}`;
}
