// The bench's choice of offered rates for the latency curve, and its target (pure).
import t from 'tap';
import { curveRates, type CurvePoint } from '../../bench/open-loop.js';
import { curveMedians, curveRatios, MODE_ADAPTIVE, MODE_STATIC_0, MODE_STATIC_2, targets, verdict, type Results } from '../../bench/results.js';

t.test('rates are 10 % to 100 % of one capacity, rounded to two significant digits, ascending', async (t) => {
  t.same(curveRates(1000), [100, 250, 400, 550, 700, 800, 900, 1000]);
  t.same(curveRates(1234), [120, 310, 490, 680, 860, 990, 1100, 1200]);
  t.same(curveRates(undefined), [5, 10, 20, 50, 100, 200, 400], 'defaults when nothing was measured');
  t.same(curveRates(0), [5, 10, 20, 50, 100, 200, 400], 'defaults when the capacity is 0');
});

function point(mode: string, rate: number, p99: number, errorRate = 0, round = 1): CurvePoint {
  return { model: 'heavy-mlp', mode, rate, round, achieved: rate, sent: rate, errorRate, p50: p99 / 2, p90: p99, p99, p999: p99, max: p99 };
}

function results(curve: CurvePoint[]): Results {
  const settings = { durationS: 1, warmupS: 0, concurrency: [64], only: ['curve'], maxRequests: 1, ceilingS: 1, quietWaitS: 0, rounds: 1, heavySizes: [4, 2], curveStepS: 1, curveRounds: 1, kneeStepS: 1, kneeP99Ms: 100, overloadStepS: 1, faultsS: 1 };
  return { command: '', startedAt: new Date(0), settings, machine: {}, cores: 2, measurements: [], ceilings: [], split: { batch: 32, inproc: [], server: [] }, v2: [], v2BodySizes: {}, compression: [], compressionServer: [], curve, curveCapacity: [], overload: [], batchCurve: [], knees: [], poison: [], failures: [] };
}

t.test('the curve target is the worst rate of adaptive p99 over the better static p99', async (t) => {
  const r = results([
    point(MODE_ADAPTIVE, 100, 10), point(MODE_STATIC_0, 100, 10), point(MODE_STATIC_2, 100, 12),
    point(MODE_ADAPTIVE, 500, 30), point(MODE_STATIC_0, 500, 40), point(MODE_STATIC_2, 500, 25),
    point(MODE_ADAPTIVE, 900, 50), // a rate without both statics is left out
  ]);
  t.same(curveRatios(r).map((x) => [x.rate, x.ratio]), [[100, 1], [500, 1.2]]);
  const target = targets(r).find((x) => x.name.includes('adaptive vs static'))!;
  t.equal(target.ratio, 1.2);
  t.equal(verdict(target), 'FAIL');
  t.match(target.detail, /worst at 500 req\/s/);
});

t.test('the curve target fails when adaptive loses more requests than static', async (t) => {
  const r = results([point(MODE_ADAPTIVE, 100, 5, 0.05), point(MODE_STATIC_0, 100, 10), point(MODE_STATIC_2, 100, 12)]);
  const target = targets(r).find((x) => x.name.includes('adaptive vs static'))!;
  t.equal(target.ratio, 0.5);
  t.equal(verdict(target), 'FAIL');
});

t.test('over several passes, a rate counts each server\'s median-p99 step', async (t) => {
  const steps = [
    point(MODE_ADAPTIVE, 100, 90, 0, 1), point(MODE_ADAPTIVE, 100, 11, 0, 2), point(MODE_ADAPTIVE, 100, 12, 0, 3),
    point(MODE_STATIC_0, 100, 10, 0, 1), point(MODE_STATIC_0, 100, 13, 0, 2), point(MODE_STATIC_0, 100, 3, 0, 3),
    point(MODE_STATIC_2, 100, 20, 0, 1), point(MODE_STATIC_2, 100, 14, 0, 2), point(MODE_STATIC_2, 100, 16, 0, 3),
  ];
  const med = curveMedians(steps);
  t.equal(med.length, 3, 'one point per server and rate');
  t.same(med.map((p) => [p.mode, p.p99, p.round]), [[MODE_ADAPTIVE, 12, 3], [MODE_STATIC_0, 10, 1], [MODE_STATIC_2, 16, 3]]);
  t.same(curveRatios(results(steps)).map((x) => x.ratio), [1.2], "adaptive's 90 ms pass is outvoted; 12 over static 0's median 10");
  t.same(curveMedians([point(MODE_ADAPTIVE, 5, 8, 0, 1), point(MODE_ADAPTIVE, 5, 4, 0, 2)]).map((p) => p.p99), [4], 'an even count: the lower middle');
});
