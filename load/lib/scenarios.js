// @ts-check
// Load scenarios (constant, ramp, spike) as k6 ramping-arrival-rate stages, shared by the k6
// scripts and the Node load runner: durations in k6 syntax, the rate at any time, the expected
// request count, and the k6 executor object. Pure JS with no imports so k6 and tsc both load it;
// no `??`/`?.`/`**` because older k6 runtimes lack them.

/** @typedef {{ target: number, duration: string }} Stage  k6 ramping-arrival-rate stage: the rate (req/s) moves linearly to `target` over `duration` */
/** @typedef {'constant'|'ramp'|'spike'} ScenarioName */
/** @typedef {{ name: ScenarioName, startRate: number, stages: Stage[] }} Scenario */
/** @typedef {{ rate: number, duration: string, maxRate?: number, spikeFactor?: number, spikeDuration?: string }} ScenarioParams */
/** @typedef {{ preAllocatedVUs: number, maxVUs: number }} VuLimits */
/**
 * @typedef {{ executor: 'constant-arrival-rate', rate: number, timeUnit: '1s', duration: string, preAllocatedVUs: number, maxVUs: number }
 *   | { executor: 'ramping-arrival-rate', startRate: number, timeUnit: '1s', stages: Stage[], preAllocatedVUs: number, maxVUs: number }} K6Scenario
 */

/** @type {readonly ScenarioName[]} */
export const SCENARIOS = Object.freeze(/** @type {ScenarioName[]} */ (['constant', 'ramp', 'spike']));

/** @type {Record<string, number>} */
const UNIT_MS = { h: 3600000, m: 60000, s: 1000, ms: 1 };

/**
 * Milliseconds in a k6 duration ("500ms", "1.5s", "1m30s", "1h"); a bare number is seconds.
 * @param {string} text
 * @returns {number}
 */
export function parseDuration(text) {
  const s = String(text).trim();
  let ms = NaN;
  if (/^\d+(\.\d+)?$/.test(s)) ms = Number(s) * 1000;
  else if (/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(s)) {
    ms = 0;
    // `ms` listed before `m` so "500ms" is not read as 500 minutes and a stray "s"
    const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g; // exec loop, not matchAll: older k6 runtimes lack it
    for (let part = re.exec(s); part; part = re.exec(s)) ms += Number(part[1]) * (UNIT_MS[part[2] || 's'] || 0);
  }
  if (!(ms > 0) || !Number.isFinite(ms)) throw new Error(`duration "${text}" is not valid; use forms like 30s, 500ms, 1m30s`);
  return ms;
}

/**
 * A k6 duration string: "30s" for whole seconds, otherwise whole milliseconds ("1500ms").
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`duration ${ms} ms is not valid; use a finite number of milliseconds >= 0`);
  const whole = Math.round(ms);
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/**
 * @param {string} what
 * @param {unknown} value
 * @returns {number}
 */
function positive(what, value) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${what} is ${String(value)}; use a finite number of requests per second > 0`);
  }
  return value;
}

/**
 * The stages of a named scenario. Stage durations are normalised to k6 form (formatDuration).
 * @param {ScenarioName} name
 * @param {ScenarioParams} p
 * @returns {Scenario}
 */
export function scenarioStages(name, p) {
  if (SCENARIOS.indexOf(name) < 0) throw new Error(`scenario "${name}" is unknown; use one of ${SCENARIOS.join(', ')}`);
  const rate = positive('rate', p.rate);
  const totalMs = Math.round(parseDuration(p.duration));
  if (totalMs <= 0) throw new Error(`duration "${p.duration}" is shorter than 1ms; use a longer duration`);
  const duration = formatDuration(totalMs);

  if (name === 'constant') return { name, startRate: rate, stages: [{ target: rate, duration }] };

  if (name === 'ramp') {
    if (p.maxRate === undefined) throw new Error('the ramp scenario needs maxRate (the rate to ramp up to); set maxRate above rate');
    const maxRate = positive('maxRate', p.maxRate);
    if (maxRate <= rate) throw new Error(`maxRate ${maxRate} must be above rate ${rate} for a ramp; raise maxRate or lower rate`);
    return { name, startRate: rate, stages: [{ target: maxRate, duration }] };
  }

  const factor = p.spikeFactor === undefined ? 5 : p.spikeFactor;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 1) {
    throw new Error(`spikeFactor is ${String(factor)}; use a finite number > 1 (the peak is rate × spikeFactor)`);
  }
  const peak = rate * factor;
  const holdMs = p.spikeDuration === undefined ? Math.round(totalMs * 0.2) : Math.round(parseDuration(p.spikeDuration));
  const baseMs = Math.round(totalMs * 0.4);
  const edgeMs = Math.max(100, Math.round(holdMs * 0.1)); // rise and fall each
  const restMs = totalMs - baseMs - edgeMs - holdMs - edgeMs;
  if (holdMs <= 0 || restMs <= 0) {
    const spike = p.spikeDuration === undefined ? formatDuration(holdMs) : p.spikeDuration;
    throw new Error(
      `spikeDuration ${spike} does not fit in duration ${p.duration} (40% base, then rise, spike, fall of ${formatDuration(edgeMs)} each side, then base); use a shorter spikeDuration or a longer duration`,
    );
  }
  return {
    name,
    startRate: rate,
    stages: [
      { target: rate, duration: formatDuration(baseMs) },
      { target: peak, duration: formatDuration(edgeMs) },
      { target: peak, duration: formatDuration(holdMs) },
      { target: rate, duration: formatDuration(edgeMs) },
      { target: rate, duration: formatDuration(restMs) },
    ],
  };
}

/**
 * @param {Scenario} scenario
 * @returns {number}
 */
export function totalDurationMs(scenario) {
  let ms = 0;
  for (const stage of scenario.stages) ms += parseDuration(stage.duration);
  return ms;
}

/**
 * Rate (req/s) at `ms` since the start: linear within each stage, 0 before the start and after the end.
 * @param {Scenario} scenario
 * @param {number} ms
 * @returns {number}
 */
export function rateAt(scenario, ms) {
  if (!(ms >= 0)) return 0;
  let from = scenario.startRate;
  let start = 0;
  for (const stage of scenario.stages) {
    const len = parseDuration(stage.duration);
    if (ms <= start + len) return from + ((stage.target - from) * (ms - start)) / len;
    from = stage.target;
    start += len;
  }
  return 0;
}

/**
 * Expected request count: the integral of the rate over the scenario.
 * @param {Scenario} scenario
 * @returns {number}
 */
export function expectedRequests(scenario) {
  let from = scenario.startRate;
  let total = 0;
  for (const stage of scenario.stages) {
    total += ((from + stage.target) / 2) * (parseDuration(stage.duration) / 1000);
    from = stage.target;
  }
  return total;
}

/** @param {number} x */
const k6Rate = (x) => Math.max(1, Math.round(x)); // k6 rejects fractional rates

/**
 * The k6 scenario object (arrival-rate executor) for a scenario.
 * @param {Scenario} scn
 * @param {VuLimits} vus
 * @returns {K6Scenario}
 */
export function k6Scenario(scn, { preAllocatedVUs, maxVUs }) {
  const first = scn.stages[0];
  if (scn.name === 'constant' && first) {
    return { executor: 'constant-arrival-rate', rate: k6Rate(first.target), timeUnit: '1s', duration: first.duration, preAllocatedVUs, maxVUs };
  }
  return {
    executor: 'ramping-arrival-rate',
    startRate: k6Rate(scn.startRate),
    timeUnit: '1s',
    stages: scn.stages.map((s) => ({ target: k6Rate(s.target), duration: s.duration })),
    preAllocatedVUs,
    maxVUs,
  };
}
