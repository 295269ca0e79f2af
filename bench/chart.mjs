// Hand-written SVG bar chart of one run's medians (with min–max whiskers): no chart library,
// so the benchmark has no dependency of its own and the file diffs cleanly in review.
import { mb, ms, times } from './lib/format.mjs';

const WIDTH = 960;
const LABEL_W = 330;
const BAR_W = 470;
const ROW_H = 20;
const TITLE_H = 30;
const GAP = 18;
const COLORS = { paipa: '#d1495b', core: '#2e86ab', peer: '#8d99ae', limit: '#c9d1dd' };

const escapeXml = (s) => String(s).replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The panels: which figure of which scenario case, in which unit. */
function panelsOf(results) {
  const panels = [];
  for (const scenario of results.scenarios) {
    const id = scenario.id.toUpperCase();
    if (scenario.metric === 'time') {
      const [testCase] = scenario.cases;
      panels.push({
        title: `${id} ${scenario.title}: time, ${testCase.label} (lower is better)`,
        unit: ms,
        rows: testCase.contenders.map((c) => ({ c, summary: c.summary.ms })),
      });
    } else if (scenario.metric === 'memory') {
      panels.push({
        title: `${id} ${scenario.title}: peak RSS of the whole process (lower is better)`,
        unit: mb,
        rows: scenario.cases.slice(0, 2).flatMap((t) =>
          t.contenders.map((c) => ({
            c,
            label: `${c.name} · ${t.label}`,
            summary: c.summary.vmHwmMb,
            base: t.contenders.find((r) => r.reference)?.summary.vmHwmMb?.median,
          })),
        ),
      });
    } else if (scenario.metric === 'teardown') {
      const [testCase] = scenario.cases;
      panels.push({
        title: `${id} ${scenario.title}: time from the throw to the rejection (lower is better)`,
        unit: ms,
        rows: testCase.contenders.map((c) => ({ c, summary: c.summary.rejectMs })),
      });
    }
  }
  return panels;
}

function drawPanel(panel, top) {
  const panelBase = panel.rows.find((r) => r.c.reference)?.summary?.median;
  const max = Math.max(1e-9, ...panel.rows.map((r) => r.summary?.max ?? 0));
  const scale = (v) => (v / max) * BAR_W;
  const out = [`<text x="10" y="${top + 20}" class="title">${escapeXml(panel.title)}</text>`];
  panel.rows.forEach((row, i) => {
    const y = top + TITLE_H + i * ROW_H;
    const { c, summary } = row;
    const base = row.base ?? panelBase;
    const failedRun = c.summary.failures.length > 0;
    out.push(
      `<text x="${LABEL_W - 8}" y="${y + 14}" class="label${c.reference ? ' ref' : ''}">${escapeXml(row.label ?? c.name)}</text>`,
    );
    if (!summary || failedRun) {
      out.push(
        `<text x="${LABEL_W + 4}" y="${y + 14}" class="fail">FAILED: ${escapeXml(c.summary.failures[0] ?? 'no result')}</text>`,
      );
      return;
    }
    const w = Math.max(1, scale(summary.median));
    out.push(
      `<rect x="${LABEL_W}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW_H - 6}" fill="${COLORS[c.role] ?? '#999'}"/>`,
      `<line x1="${(LABEL_W + scale(summary.min)).toFixed(1)}" x2="${(LABEL_W + scale(summary.max)).toFixed(1)}" y1="${y + 10}" y2="${y + 10}" class="whisker"/>`,
      `<text x="${(LABEL_W + Math.max(w, scale(summary.max)) + 6).toFixed(1)}" y="${y + 14}" class="value">${escapeXml(panel.unit(summary.median))}${base && !c.reference ? ` · ${times(summary.median / base)} paipa` : ''}</text>`,
    );
  });
  return { svg: out.join('\n'), height: TITLE_H + panel.rows.length * ROW_H + GAP };
}

/** @returns {string} the SVG document */
export function renderChart(results) {
  const { machine } = results;
  let top = 40;
  const parts = [];
  for (const panel of panelsOf(results)) {
    const { svg, height } = drawPanel(panel, top);
    parts.push(svg);
    top += height;
  }
  const legend = Object.entries(COLORS)
    .map(
      ([role, color], i) =>
        `<rect x="${10 + i * 120}" y="${top}" width="12" height="12" fill="${color}"/><text x="${28 + i * 120}" y="${top + 11}" class="value">${role === 'limit' ? 'no library' : role === 'peer' ? 'library' : role === 'core' ? 'Node core' : 'paipa'}</text>`,
    )
    .join('\n');
  const height = top + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:14px;font-weight:bold}.label{font-size:12px;text-anchor:end}.value{font-size:11px;fill:#333}.fail{font-size:11px;fill:#c00}.whisker{stroke:#222;stroke-width:1}.ref{font-weight:bold}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" class="value">paipa benchmarks: medians of ${escapeXml(machine.date)} (“1.50× paipa”: 1.5 times the bold paipa row's figure), ${escapeXml(machine.cpu)} (${machine.cores} cores), Node ${escapeXml(machine.node)}; whiskers span min–max over the rounds</text>`,
    ...parts,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
