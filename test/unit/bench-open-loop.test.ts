// The bench's choice of offered rates for the latency curve (pure).
import t from 'tap';
import { curveRates } from '../../bench/open-loop.js';

t.test('rates cross both servers\' knees, rounded to two significant digits, ascending', async (t) => {
  const rates = curveRates(1000, 120);
  t.same(rates, [30, 60, 90, 120, 250, 500, 700, 850, 1000, 1200]);
  t.same(curveRates(undefined, undefined), [5, 10, 20, 50, 100, 200, 400], 'defaults when nothing was measured');
  t.same(curveRates(1234, undefined), [310, 620, 860, 1000, 1200, 1500]);
});
