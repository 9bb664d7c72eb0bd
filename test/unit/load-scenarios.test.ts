// Unit tests for load/lib/scenarios.js: k6 durations, the constant/ramp/spike stages, the rate
// profile and its integral, and the k6 executor objects. Expected values are worked by hand.
import t from 'tap';
import {
  SCENARIOS,
  expectedRequests,
  formatDuration,
  k6Scenario,
  parseDuration,
  rateAt,
  scenarioStages,
  totalDurationMs,
  type Scenario,
} from '../../load/lib/scenarios.js';
import { thrown } from '../helpers/thrown.js';

const messageOf = (fn: () => unknown): string => {
  const err = thrown(fn);
  return err instanceof Error ? err.message : `no Error thrown (${String(err)})`;
};

t.test('parseDuration reads k6 forms and bare seconds', async (t) => {
  const cases: Array<[string, number]> = [
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1h2m3s', 3_723_000],
    ['2m500ms', 120_500],
    ['30', 30_000],
    ['0.25', 250],
    [' 10s ', 10_000],
  ];
  for (const [text, ms] of cases) t.equal(parseDuration(text), ms, JSON.stringify(text));
});

t.test('parseDuration refuses what k6 would not run', async (t) => {
  for (const bad of ['', 'abc', '10x', '-5s', '0s', '0', '1.s', 's', '5 s', 'ms', '1d']) {
    const msg = messageOf(() => parseDuration(bad));
    t.equal(msg, `duration "${bad}" is not valid; use forms like 30s, 500ms, 1m30s`, JSON.stringify(bad));
  }
});

t.test('formatDuration: whole seconds as s, otherwise whole ms', async (t) => {
  t.equal(formatDuration(30_000), '30s');
  t.equal(formatDuration(1500), '1500ms');
  t.equal(formatDuration(100), '100ms');
  t.equal(formatDuration(0), '0s');
  t.equal(formatDuration(999.6), '1s', 'rounded to integer ms first');
  t.equal(formatDuration(1234.4), '1234ms');
  for (const ms of [500, 1500, 30_000, 90_500]) t.equal(parseDuration(formatDuration(ms)), ms, `round trip ${ms}`);
  t.match(messageOf(() => formatDuration(-1)), /not valid/);
  t.match(messageOf(() => formatDuration(NaN)), /not valid/);
});

const stageSum = (s: Scenario): number => s.stages.reduce((ms, st) => ms + parseDuration(st.duration), 0);

t.test('constant: one stage at the rate', async (t) => {
  const s = scenarioStages('constant', { rate: 50, duration: '10s' });
  t.strictSame(s, { name: 'constant', startRate: 50, stages: [{ target: 50, duration: '10s' }] });
  t.equal(totalDurationMs(s), 10_000);
  t.equal(scenarioStages('constant', { rate: 5, duration: '1m30s' }).stages[0]?.duration, '90s', 'duration normalised to k6 form');
});

t.test('ramp: rate to maxRate over the duration', async (t) => {
  const s = scenarioStages('ramp', { rate: 10, duration: '10s', maxRate: 30 });
  t.strictSame(s, { name: 'ramp', startRate: 10, stages: [{ target: 30, duration: '10s' }] });
  t.match(messageOf(() => scenarioStages('ramp', { rate: 10, duration: '10s' })), /maxRate/);
  t.match(messageOf(() => scenarioStages('ramp', { rate: 10, duration: '10s', maxRate: 10 })), /maxRate 10 must be above rate 10/);
  t.match(messageOf(() => scenarioStages('ramp', { rate: 10, duration: '10s', maxRate: 5 })), /maxRate/);
  t.match(messageOf(() => scenarioStages('ramp', { rate: 10, duration: '10s', maxRate: Infinity })), /maxRate/);
});

t.test('spike: base 40%, quick rise, hold, quick fall, base; sums to the duration', async (t) => {
  const s = scenarioStages('spike', { rate: 20, duration: '60s' });
  // hold 20% = 12 s, edges 10% of the hold = 1.2 s, rest 60 - 24 - 1.2 - 12 - 1.2 = 21.6 s
  t.strictSame(s, {
    name: 'spike',
    startRate: 20,
    stages: [
      { target: 20, duration: '24s' },
      { target: 100, duration: '1200ms' },
      { target: 100, duration: '12s' },
      { target: 20, duration: '1200ms' },
      { target: 20, duration: '21600ms' },
    ],
  });
  t.equal(stageSum(s), 60_000);
  t.equal(Math.max(...s.stages.map((st) => st.target)), 100, 'peaks at rate × 5');

  const custom = scenarioStages('spike', { rate: 10, duration: '30s', spikeFactor: 3, spikeDuration: '500ms' });
  t.equal(custom.stages[1]?.duration, '100ms', 'edges are at least 100 ms');
  t.equal(custom.stages[2]?.duration, '500ms');
  t.equal(rateAt(custom, 12_000 + 100 + 250), 30, 'holds rate × factor');
  t.equal(stageSum(custom), 30_000);

  for (const [duration, spikeDuration] of [['7s', undefined], ['1m', '7s'], ['3s', '1s'], ['1m3s', '999ms']] as const) {
    const sc = scenarioStages('spike', { rate: 7, duration, ...(spikeDuration ? { spikeDuration } : {}) });
    t.equal(stageSum(sc), parseDuration(duration), `${duration}/${spikeDuration}: stages add up exactly`);
  }
  t.match(messageOf(() => scenarioStages('spike', { rate: 10, duration: '10s', spikeDuration: '6s' })), /spikeDuration 6s does not fit in duration 10s/);
  t.match(messageOf(() => scenarioStages('spike', { rate: 10, duration: '10s', spikeFactor: 1 })), /spikeFactor/);
  t.match(messageOf(() => scenarioStages('spike', { rate: 10, duration: '10s', spikeDuration: 'soon' })), /duration "soon" is not valid/);
});

t.test('rateAt is piecewise linear and 0 outside the run; expectedRequests integrates it', async (t) => {
  const constant = scenarioStages('constant', { rate: 50, duration: '10s' });
  t.equal(rateAt(constant, 0), 50);
  t.equal(rateAt(constant, 9999), 50);
  t.equal(rateAt(constant, 10_001), 0);
  t.equal(rateAt(constant, -1), 0);
  t.equal(expectedRequests(constant), 500);

  const ramp = scenarioStages('ramp', { rate: 10, duration: '10s', maxRate: 30 });
  t.equal(rateAt(ramp, 0), 10);
  t.equal(rateAt(ramp, 5000), 20);
  t.equal(rateAt(ramp, 10_000), 30);
  t.equal(rateAt(ramp, 20_000), 0);
  t.equal(expectedRequests(ramp), 200);

  const spike = scenarioStages('spike', { rate: 10, duration: '10s', spikeFactor: 5, spikeDuration: '1s' });
  // 4 s base, 0.1 s rise, 1 s at 50, 0.1 s fall, 4.8 s base
  t.equal(rateAt(spike, 4050), 30, 'half way up the rise');
  t.equal(expectedRequests(spike), 40 + 3 + 50 + 3 + 48);
  t.equal(totalDurationMs(spike), 10_000);
});

t.test('k6Scenario: arrival-rate executors with whole rates', async (t) => {
  const vus = { preAllocatedVUs: 5, maxVUs: 50 };
  t.strictSame(k6Scenario(scenarioStages('constant', { rate: 2.4, duration: '30s' }), vus), {
    executor: 'constant-arrival-rate',
    rate: 2,
    timeUnit: '1s',
    duration: '30s',
    preAllocatedVUs: 5,
    maxVUs: 50,
  });
  t.equal((k6Scenario(scenarioStages('constant', { rate: 0.2, duration: '30s' }), vus) as { rate: number }).rate, 1, 'at least 1');
  t.strictSame(k6Scenario(scenarioStages('ramp', { rate: 0.4, duration: '1m', maxRate: 99.5 }), vus), {
    executor: 'ramping-arrival-rate',
    startRate: 1,
    timeUnit: '1s',
    stages: [{ target: 100, duration: '60s' }],
    preAllocatedVUs: 5,
    maxVUs: 50,
  });
  const spike = k6Scenario(scenarioStages('spike', { rate: 3.3, duration: '10s', spikeFactor: 2.5 }), vus);
  t.equal(spike.executor, 'ramping-arrival-rate');
  if (spike.executor === 'ramping-arrival-rate') {
    t.strictSame(spike.stages.map((s) => s.target), [3, 8, 8, 3, 3], 'targets rounded (8.25 → 8)');
    t.ok(spike.stages.every((s) => Number.isInteger(s.target)));
  }
});

t.test('bad rates and names are refused with what to fix', async (t) => {
  for (const rate of [0, -1, NaN, Infinity]) {
    t.match(messageOf(() => scenarioStages('constant', { rate, duration: '10s' })), /^rate is .*; use a finite number of requests per second > 0$/, `rate ${rate}`);
  }
  const msg = messageOf(() => scenarioStages('soak' as 'constant', { rate: 1, duration: '10s' }));
  t.equal(msg, `scenario "soak" is unknown; use one of ${SCENARIOS.join(', ')}`);
  t.strictSame([...SCENARIOS], ['constant', 'ramp', 'spike']);
  t.match(messageOf(() => scenarioStages('constant', { rate: 1, duration: 'forever' })), /duration "forever" is not valid/);
  for (const m of [msg, messageOf(() => scenarioStages('ramp', { rate: 1, duration: '1s' }))]) t.notOk(m.includes('\n'), 'one line');
});
