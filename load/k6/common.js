// Shared body of the k6 scripts (load/constant.js, ramp.js, spike.js): environment settings,
// the options (arrival-rate scenario + thresholds), setup (model metadata) and one iteration
// (POST one inference request). k6 only: it imports k6 modules, so it lives outside load/lib,
// which tsc compiles.
import http from 'k6/http';
import { check } from 'k6';
import { buildPayload, metadataPath, PROTOCOLS } from '../lib/payload.js';
import { scenarioStages, k6Scenario } from '../lib/scenarios.js';

/**
 * A numeric env var, or its default when unset.
 * @param {string} name
 * @param {number} fallback
 */
function num(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!isFinite(n)) throw new Error(`${name}=${raw} is not a number; set it to a number or leave it unset (default ${fallback})`);
  return n;
}

/** @param {string} name */
function text(name) {
  const raw = __ENV[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

// Read once in the init context so a bad setting stops the run before any request.
const BASE_URL = (text('BASE_URL') || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const MODEL = text('MODEL');
if (MODEL === undefined) throw new Error('MODEL is not set; run e.g. k6 run -e MODEL=digits load/constant.js');
const PROTOCOL = text('PROTOCOL') || 'v1';
if (PROTOCOLS.indexOf(PROTOCOL) < 0) throw new Error(`PROTOCOL=${PROTOCOL} is unknown; use one of ${PROTOCOLS.join(', ')}`);
const VERSION = text('VERSION');
const VARIANT = text('VARIANT');
const BATCH = num('BATCH', 1);
const RATE = num('RATE', 50);
const DURATION = text('DURATION') || '30s';
const MAX_RATE = num('MAX_RATE', RATE * 10);
const SPIKE_FACTOR = num('SPIKE_FACTOR', 5);
const SPIKE_DURATION = text('SPIKE_DURATION');
const P99_MS = num('P99_MS', 500);
const MAX_ERROR_RATE = num('MAX_ERROR_RATE', 0.01);
const VUS = num('VUS', 50);
const MAX_VUS = num('MAX_VUS', 500);

/**
 * k6 options for one scenario: its arrival-rate executor and the pass/fail thresholds.
 * @param {'constant'|'ramp'|'spike'} name
 */
export function options(name) {
  const params = { rate: RATE, duration: DURATION, maxRate: MAX_RATE, spikeFactor: SPIKE_FACTOR };
  if (SPIKE_DURATION !== undefined) params.spikeDuration = SPIKE_DURATION;
  const scn = scenarioStages(name, params);
  const p99 = `p(99)<${P99_MS}`;
  return {
    scenarios: { [name]: k6Scenario(scn, { preAllocatedVUs: VUS, maxVUs: Math.max(VUS, MAX_VUS) }) },
    thresholds: {
      http_req_failed: [`rate<${MAX_ERROR_RATE}`],
      // a ramp is run to find the knee: stop once p99 stays over budget (after 10 s of warm-up)
      http_req_duration: name === 'ramp' ? [{ threshold: p99, abortOnFail: true, delayAbortEval: '10s' }] : [p99],
    },
  };
}

/** Fetches the model's metadata once; every VU builds its request body from it. */
export function setup() {
  const url = BASE_URL + metadataPath(MODEL, VERSION);
  const res = http.get(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${res.body}; check BASE_URL, MODEL and VERSION`);
  return JSON.parse(String(res.body));
}

// Per VU: setup data crosses to VUs as JSON, so a binary body cannot be built once in setup.
let payload = null;
let body = null;

/** One request: POST the VU's payload and check it succeeded. */
export function iteration(metadata) {
  if (payload === null) {
    const opts = { protocol: PROTOCOL, batch: BATCH, seed: __VU || 1 };
    if (VERSION !== undefined) opts.version = VERSION;
    if (VARIANT !== undefined) opts.variant = VARIANT;
    payload = buildPayload(metadata, opts);
    body = typeof payload.body === 'string' ? payload.body : payload.body.buffer;
  }
  // responseType none: the answer is not read, which keeps k6's own CPU and memory out of the measurement
  const res = http.post(BASE_URL + payload.path, body, { headers: payload.headers, responseType: 'none', tags: { protocol: PROTOCOL } });
  check(res, { 'status is 200': (r) => r.status === 200 });
}
