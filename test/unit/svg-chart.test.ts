// Unit tests for bench/svg-chart.ts: well-formed, deterministic SVG; one path per series with data,
// markers per plottable point, legend/no-data handling, log ticks, escaping. Checked on the output text.
import t, { type Test } from 'tap';
import { escapeXml, formatNumber, lineChart, stackedCharts, type ChartSpec } from '../../bench/svg-chart.js';
import { xmlProblems } from '../helpers/xml.js';

const count = (s: string, sub: string): number => s.split(sub).length - 1;
const BATCHES = [1, 2, 4, 8, 16, 32, 64];

function assertWellFormed(tt: Test, svg: string, msg: string): void {
  tt.same(xmlProblems(svg), [], `${msg}: well-formed`);
  tt.notOk(/NaN|Infinity|undefined/.test(svg), `${msg}: no NaN/Infinity/undefined`);
  tt.match(svg, /^<\?xml[^>]*>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/, `${msg}: svg root`);
  tt.match(svg, /<rect width="\d+" height="\d+" fill="#ffffff"\/>/, `${msg}: white background`);
}

/** Text content of every <text> element, unescaped. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text([^>]*)>([^<]*)<\/text>/g)].map((m) =>
    (m[2] ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&'));
}

t.test('the checker itself rejects malformed XML', async (tt) => {
  tt.same(xmlProblems('<a x="1"><b/></a>'), []);
  tt.not(xmlProblems('<a>a < b</a>').length, 0, 'raw <');
  tt.not(xmlProblems('<a>a & b</a>').length, 0, 'raw &');
  tt.not(xmlProblems('<a x="a"b"/>').length, 0, 'quote in attribute');
  tt.not(xmlProblems('<a><b></a></b>').length, 0, 'misnested');
  tt.not(xmlProblems('<a/><b/>').length, 0, 'two roots');
  tt.not(xmlProblems('<a x="1" x="2"/>').length, 0, 'duplicate attribute');
});

t.test('escapeXml and formatNumber', async (tt) => {
  tt.equal(escapeXml(`a < b & "c" 'd' >`), 'a &lt; b &amp; &quot;c&quot; &apos;d&apos; &gt;');
  tt.equal(escapeXml('bell\u0007tab\tok'), 'belltab\tok', 'XML-forbidden control characters dropped');
  const cases: [number, string][] = [
    [0, '0'], [1, '1'], [64, '64'], [0.5, '0.5'], [0.000123, '0.000123'], [12.345, '12.3'], [999, '999'],
    [1000, '1k'], [2500, '2.5k'], [12500, '12.5k'], [999.9, '1k'], [1_000_000, '1M'], [1_234_567, '1.23M'], [-2000, '-2k'], [3e9, '3G'],
  ];
  for (const [v, s] of cases) tt.equal(formatNumber(v), s, `formatNumber(${v})`);
});

t.test('well-formed output, including hostile text everywhere', async (tt) => {
  const hostile = `a < b & "c" 'd' > ]]> <!--`;
  const spec: ChartSpec = {
    title: hostile, subtitle: hostile, xLabel: hostile, yLabel: hostile,
    series: [{ name: hostile, points: [[1, 2], [2, 3]] }, { name: `${hostile} empty`, points: [] }],
    hLines: [{ y: 2.5, label: hostile }],
  };
  const svg = lineChart(spec);
  assertWellFormed(tt, svg, 'hostile');
  tt.ok(texts(svg).includes(hostile), 'title text round-trips through escaping');
  tt.ok(svg.includes(`<title>${escapeXml(hostile)}: 1, 2</title>`), 'tooltip escaped');
  tt.notOk(svg.includes('a < b'), 'no raw hostile text');

  const charts: [string, ChartSpec][] = [
    ['linear', { title: 'T', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[0, 0], [10, 100]] }] }],
    ['log x base 2', { title: 'T', xLabel: 'x', yLabel: 'y', xLog: 2, series: [{ name: 's', points: BATCHES.map((b) => [b, b * 10]) }] }],
    ['log y', { title: 'T', xLabel: 'x', yLabel: 'y', yLog: true, series: [{ name: 's', points: [[1, 0.3], [2, 40], [3, 9000]] }] }],
    ['no data', { title: 'T', xLabel: 'x', yLabel: 'y', series: [] }],
    ['big', { title: 'T', subtitle: 'machine', xLabel: 'x', yLabel: 'y', width: 400, height: 300,
      series: Array.from({ length: 12 }, (_, i) => ({ name: `series ${i}`, points: [[1, i], [2, i * 2]] as [number, number][] })) }],
  ];
  for (const [name, c] of charts) assertWellFormed(tt, lineChart(c), name);
});

t.test('paths, markers and legend', async (tt) => {
  const svg = lineChart({
    title: 'T', xLabel: 'x', yLabel: 'y',
    series: [
      { name: 'alpha', points: [[1, 1], [2, NaN], [3, 3], [4, 4]] },
      { name: 'beta', points: [[1, 2], [Infinity, 2], [3, -Infinity], [4, 5]], dashed: true },
      { name: 'gamma', points: [[NaN, 1], [2, Infinity]] },
      { name: 'delta', points: [] },
    ],
  });
  assertWellFormed(tt, svg, 'mixed');
  tt.equal(count(svg, '<path'), 2, 'one <path> per series with data');
  tt.equal(count(svg, '<circle') - 2, 5, 'one marker per finite point (plus one legend dot per series with data)');
  tt.equal(count(svg, '<title>'), 5, 'one tooltip per marker');
  tt.ok(svg.includes('<title>alpha: 3, 3</title>'), 'tooltip "series: x, y"');
  const legend = texts(svg);
  for (const l of ['alpha', 'beta', 'gamma (no data)', 'delta (no data)']) tt.ok(legend.includes(l), `legend entry ${l}`);
  tt.notOk(legend.includes('alpha (no data)'), 'series with data not marked');
  tt.notOk(legend.includes('no data'), 'no centred "no data" when something plots');

  const alpha = /<path d="([^"]*)"[^>]*stroke="#0072B2"/.exec(svg)?.[1] ?? '';
  tt.equal(count(alpha, 'M'), 2, 'line breaks at the NaN point (two sub-paths)');
  tt.match(svg, /<path d="[^"]*" fill="none" stroke="#D55E00" stroke-width="2" stroke-dasharray="[\d ]+"\/>/, 'dashed series has stroke-dasharray');
  tt.notMatch(svg, /<path[^>]*stroke="#0072B2"[^>]*stroke-dasharray/, 'solid series has none');
  for (const n of svg.matchAll(/(?:c[xy]|[xy][12]?|d)="([^"]*)"/g)) {
    for (const num of (n[1] ?? '').match(/-?\d+\.\d+/g) ?? []) {
      if (!/^-?\d+\.\d$/.test(num)) { tt.fail(`coordinate ${num} not rounded to 1 decimal`); return; }
    }
  }
});

t.test('no data anywhere renders a frame with "no data"', async (tt) => {
  for (const [name, spec] of [
    ['no series', { title: 'T', xLabel: 'x', yLabel: 'y', series: [] }],
    ['only NaN', { title: 'T', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[NaN, 1], [1, NaN]] }] }],
    ['log with zeros', { title: 'T', xLabel: 'x', yLabel: 'y', xLog: 2, yLog: true,
      series: [{ name: 's', points: [[0, 1], [1, 0], [-1, -1]] }], hLines: [{ y: 0, label: 'zero' }] }],
  ] as [string, ChartSpec][]) {
    const svg = lineChart(spec);
    assertWellFormed(tt, svg, name);
    tt.ok(texts(svg).includes('no data'), `${name}: centred "no data"`);
    tt.equal(count(svg, '<path'), 0, `${name}: no series path`);
    tt.equal(count(svg, '<title>'), 0, `${name}: no markers`);
    tt.ok(texts(svg).includes('x') && texts(svg).includes('y'), `${name}: axis labels still drawn`);
  }
});

t.test('degenerate data never yields NaN coordinates', async (tt) => {
  const specs: [string, ChartSpec][] = [
    ['single point', { title: 'T', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[5, 7]] }] }],
    ['single zero point', { title: 'T', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[0, 0]] }] }],
    ['identical values', { title: 'T', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[3, 2], [3, 2], [3, 2]] }] }],
    ['single point log', { title: 'T', xLabel: 'x', yLabel: 'y', xLog: 2, yLog: 10, series: [{ name: 's', points: [[8, 100]] }] }],
    ['log with zeros and negatives', { title: 'T', xLabel: 'x', yLabel: 'y', xLog: true, yLog: true, yMin: 0,
      series: [{ name: 's', points: [[0, 5], [1, 0], [2, 4], [4, -3], [8, 16]] }] }],
    ['tiny size', { title: 'T', xLabel: 'x', yLabel: 'y', width: 50, height: 40, series: [{ name: 's', points: [[1, 1], [2, 2]] }] }],
    ['huge and tiny values', { title: 'T', xLabel: 'x', yLabel: 'y', yLog: true, series: [{ name: 's', points: [[1, 1e-9], [2, 1e12]] }] }],
    ['close values', { title: 'T', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, 1000], [2, 1000.001]] }] }],
  ];
  for (const [name, spec] of specs) {
    const svg = lineChart(spec);
    assertWellFormed(tt, svg, name);
    tt.equal(count(svg, '<path'), 1, `${name}: series drawn`);
  }
  const logZeros = lineChart(specs[4]![1]);
  tt.equal(count(logZeros, '<title>'), 2, 'log axes skip values <= 0 (only (2,4) and (8,16) remain)');
  const close = [...lineChart(specs[7]![1]).matchAll(/text-anchor="end" fill="#333333">([^<]*)</g)].map((m) => m[1]);
  tt.ok(close.length >= 2, 'y ticks for close values');
  tt.equal(new Set(close).size, close.length, `tick labels unique even for close values: ${close.join(' ')}`);
});

t.test('log x axis base 2 ticks, y increases upwards', async (tt) => {
  const svg = lineChart({
    title: 'T', xLabel: 'batch size', yLabel: 'req/s', xLog: 2, yMin: 0,
    series: [{ name: 's', points: BATCHES.map((b) => [b, 100 * b]) }],
  });
  const xLabels = [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)" text-anchor="middle" fill="#333333">([^<]*)<\/text>/g)];
  tt.same(xLabels.map((m) => m[3]), ['1', '2', '4', '8', '16', '32', '64'], 'x tick labels are the powers of 2');
  const xs = xLabels.map((m) => Number(m[1]));
  const gaps = xs.slice(1).map((x, i) => x - (xs[i] ?? 0));
  tt.ok(gaps.every((g) => Math.abs(g - (gaps[0] ?? 0)) <= 0.2), `powers of 2 evenly spaced: ${gaps.join(',')}`);

  const yLabels = [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" text-anchor="end" fill="#333333">([^<]*)<\/text>/g)];
  tt.ok(yLabels.length >= 3, 'several y ticks');
  tt.equal(yLabels[0]?.[2], '0', 'yMin 0 included, bottom tick is 0');
  tt.ok(yLabels.some((m) => /k$/.test(m[2] ?? '')), 'thousands formatted compactly');
  const parse = (s: string): number => (s.endsWith('k') ? Number(s.slice(0, -1)) * 1000 : Number(s));
  for (let i = 1; i < yLabels.length; i++) {
    const [a, b] = [yLabels[i - 1]!, yLabels[i]!];
    tt.ok(parse(b[2]!) > parse(a[2]!) && Number(b[1]) < Number(a[1]), `${b[2]} above ${a[2]} (smaller y coordinate)`);
  }
  const m1 = /<title>s: 1, 100<\/title>/.test(svg);
  const pts = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="3"><title>/g)].map((m) => [Number(m[1]), Number(m[2])]);
  tt.ok(m1 && pts.every((p, i) => i === 0 || (p[0]! > pts[i - 1]![0]! && p[1]! < pts[i - 1]![1]!)), 'markers go right and up');
});

t.test('log y base 10 labels decades, not every minor tick', async (tt) => {
  const svg = lineChart({ title: 'T', xLabel: 'x', yLabel: 'ms', yLog: true, series: [{ name: 's', points: [[1, 0.8], [2, 130]] }] });
  const labels = [...svg.matchAll(/text-anchor="end" fill="#333333">([^<]*)</g)].map((m) => m[1]);
  tt.same(labels, ['1', '2', '5', '10', '20', '50', '100'], 'labels at 1/2/5 per decade');
});

t.test('hLines are dashed grey with their label', async (tt) => {
  const svg = lineChart({
    title: 'T', xLabel: 'x', yLabel: 'ms',
    series: [{ name: 's', points: [[1, 10], [2, 20]] }],
    hLines: [{ y: 50, label: 'p99 target 50 ms' }, { y: NaN, label: 'bogus' }],
  });
  assertWellFormed(tt, svg, 'hLines');
  tt.ok(texts(svg).includes('p99 target 50 ms'), 'label drawn');
  tt.notOk(texts(svg).includes('bogus'), 'non-finite hLine skipped');
  tt.match(svg, /<line [^>]*stroke="#888888"[^>]*stroke-dasharray="[\d ]+"\/>/, 'dashed grey line');
  const yLabels = [...svg.matchAll(/text-anchor="end" fill="#333333">([^<]*)</g)].map((m) => Number(m[1]));
  tt.ok(Math.max(...yLabels) >= 50, 'y domain extended to show the line');
});

t.test('deterministic', async (tt) => {
  const spec = (): ChartSpec => ({
    title: 'T', subtitle: 'sub', xLabel: 'x', yLabel: 'y', xLog: 2,
    series: [{ name: 'a', points: BATCHES.map((b) => [b, Math.sqrt(b)]) }, { name: 'b', points: [[1, 3]], dashed: true }],
    hLines: [{ y: 2, label: 'two' }],
  });
  tt.equal(lineChart(spec()), lineChart(spec()), 'same spec, same string');
  tt.equal(lineChart({ title: 'T', xLabel: 'x', yLabel: 'y', series: [] }), lineChart({ title: 'T', xLabel: 'x', yLabel: 'y', series: [] }));
});

t.test('stackedCharts: one document, each chart below the one before, as tall as all of them', async (tt) => {
  const a: ChartSpec = { title: 'A', xLabel: 'x', yLabel: 'y', height: 300, series: [{ name: 'a', points: [[1, 1], [2, 2]] }] };
  const b: ChartSpec = { title: 'B', xLabel: 'x', yLabel: 'y', width: 600, height: 200, series: [{ name: 'b', points: [[1, 5], [2, 3]] }] };
  const svg = stackedCharts([a, b]);
  assertWellFormed(tt, svg, 'stacked');
  tt.match(svg, /<svg [^>]*width="720" height="500" viewBox="0 0 720 500"/, 'widest chart, summed heights');
  tt.equal(count(svg, '<?xml'), 1);
  tt.equal(count(svg, '<path '), 2);
  tt.match(svg, /<g transform="translate\(0 0\)">[\s\S]*>A<\/text>[\s\S]*<g transform="translate\(0 300\)">[\s\S]*>B<\/text>/);
  tt.ok(svg.includes(lineChart(a).split('\n').slice(2, -2).join('\n')), "the first chart's elements, unchanged");
});
