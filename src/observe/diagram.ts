import { formatWhole } from './number-format';
import { describe, invalidArg } from '../errors/errors';
import type { StepStats } from '../types';
import { checkBoolean, checkInteger } from '../util/validate';

/** What a diagram needs to know about one step (a subset of the engine's step plan). */
export interface DiagramStep {
  name: string;
  kind: 'func' | 'class' | 'iter' | 'stream';
  concurrency: number;
  /** Bound of the step's input buffer: the most items waiting for it. */
  highWaterMark: number;
  ordered: boolean;
}

/**
 * A picture of a pipeline, after paipa's schematic diagram: the input, then each step, a step
 * with n instances drawn as a fan-out to its instances and a merge back, then the output.
 * Both renderers draw the same graph model, so Mermaid and DOT never disagree.
 */

type Shape = 'end' | 'step' | 'lane' | 'more' | 'merge';
interface GraphNode {
  id: string;
  shape: Shape;
  lines: string[];
}
interface GraphEdge {
  from: string;
  to: string;
  lines: string[];
}
interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/**
 * Instance nodes drawn per step. Up to MAX_LANES + 1 instances are all drawn (a "… 1 more"
 * node would save nothing); beyond that, MAX_LANES of them and one "… n more" node.
 */
const MAX_LANES = 4;
const KINDS = ['func', 'class', 'iter', 'stream'];
const count = formatWhole;

/**
 * The pipeline as a Mermaid flowchart (`flowchart LR`), for Markdown that renders Mermaid
 * (GitHub, GitLab, many doc sites). Node ids are generated, never taken from step names; names
 * are entity-escaped, so any name gives valid syntax. With `stats` (one row per step, in order,
 * e.g. `pipeline.stats()`), nodes show in/out, busy/queued and throughput, and edges the items
 * that passed.
 *
 * Throws a TypeError (RangeError for numbers out of range) naming the field, e.g.
 * `renderMermaid steps[1].concurrency`, for a malformed step, or when `stats` is given without
 * one row per step.
 *
 * @example
 * renderMermaid([{ name: 'parse', kind: 'func', concurrency: 4, highWaterMark: 16, ordered: false }]);
 * // flowchart LR
 * //   source(["input"])
 * //   s0["parse<br/>func · ×4 · hwm 16"] ...
 */
export function renderMermaid(steps: readonly DiagramStep[], stats?: readonly StepStats[]): string {
  const { nodes, edges } = buildGraph('renderMermaid', steps, stats);
  const text = (lines: string[]) => `"${lines.map(mermaidEscape).join('<br/>')}"`;
  const shape: Record<Shape, [string, string]> = {
    end: ['([', '])'],
    step: ['[', ']'],
    lane: ['(', ')'],
    more: ['(', ')'],
    merge: ['((', '))'],
  };
  const out = ['flowchart LR'];
  for (const node of nodes) {
    const [open, close] = shape[node.shape];
    out.push(`  ${node.id}${open}${text(node.lines)}${close}`);
  }
  for (const edge of edges) {
    const arrow = edge.lines.length > 0 ? `-->|${text(edge.lines)}|` : '-->';
    out.push(`  ${edge.from} ${arrow} ${edge.to}`);
  }
  const more = nodes.filter((n) => n.shape === 'more').map((n) => n.id);
  if (more.length > 0) {
    out.push('  classDef more stroke-dasharray: 4 4');
    out.push(`  class ${more.join(',')} more`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * The pipeline as a Graphviz `digraph` (render with `dot -Tsvg`). Same graph, labels and
 * error behaviour as `renderMermaid`; names are escaped for DOT's quoted strings.
 *
 * @example
 * fs.writeFileSync('pipeline.dot', renderDot(steps, pipeline.stats()));
 */
export function renderDot(steps: readonly DiagramStep[], stats?: readonly StepStats[]): string {
  const { nodes, edges } = buildGraph('renderDot', steps, stats);
  const text = (lines: string[]) => `"${lines.map(dotEscape).join('\\n')}"`;
  const attrs: Record<Shape, string> = {
    end: 'shape=oval',
    step: 'shape=box',
    lane: 'shape=box, style=rounded',
    more: 'shape=box, style="rounded,dashed"',
    merge: 'shape=point',
  };
  const out = ['digraph paipa {', '  rankdir=LR;'];
  for (const node of nodes) {
    out.push(`  ${node.id} [label=${text(node.lines)}, ${attrs[node.shape]}];`);
  }
  for (const edge of edges) {
    const label = edge.lines.length > 0 ? ` [label=${text(edge.lines)}]` : '';
    out.push(`  ${edge.from} -> ${edge.to}${label};`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

function buildGraph(
  where: string,
  steps: readonly DiagramStep[],
  stats: readonly StepStats[] | undefined,
): Graph {
  checkSteps(where, steps, stats);
  const nodes: GraphNode[] = [{ id: 'source', shape: 'end', lines: ['input'] }];
  const edges: GraphEdge[] = [];
  let exit = 'source';
  steps.forEach((step, i) => {
    const figures = stats?.[i];
    const id = `s${i}`;
    nodes.push({ id, shape: 'step', lines: stepLines(step, figures) });
    const bound = `hwm ${count(step.highWaterMark)}`;
    edges.push({
      from: exit,
      to: id,
      lines: [figures ? `${bound} · ${count(figures.in)} items` : bound],
    });
    exit = id;
    if (step.concurrency === 1) return;
    // Fan-out to the instances and merge back: the stage's shape, drawn literally.
    const n = step.concurrency;
    const shown = n <= MAX_LANES + 1 ? n : MAX_LANES;
    const lanes: GraphNode[] = [];
    for (let k = 0; k < shown; k++) {
      lanes.push({ id: `${id}_${k}`, shape: 'lane', lines: [`#${k}`] });
    }
    if (shown < n) lanes.push({ id: `${id}_more`, shape: 'more', lines: [`… ${n - shown} more`] });
    const merge = `${id}_merge`;
    for (const lane of lanes) {
      nodes.push(lane);
      edges.push({ from: id, to: lane.id, lines: [] }, { from: lane.id, to: merge, lines: [] });
    }
    nodes.push({ id: merge, shape: 'merge', lines: ['merge'] });
    exit = merge;
  });
  const last = stats?.[steps.length - 1];
  nodes.push({ id: 'sink', shape: 'end', lines: ['output'] });
  edges.push({ from: exit, to: 'sink', lines: last ? [`${count(last.out)} items`] : [] });
  return { nodes, edges };
}

function stepLines(step: DiagramStep, figures: StepStats | undefined): string[] {
  const traits = [step.kind, `×${step.concurrency}`, `hwm ${count(step.highWaterMark)}`];
  if (step.ordered) traits.push('ordered');
  const lines = [step.name, traits.join(' · ')];
  if (figures) {
    lines.push(`in ${count(figures.in)} · out ${count(figures.out)}`);
    const load = [`busy ${count(figures.busy)}`, `queued ${count(figures.queued)}`];
    if (figures.failed > 0) load.push(`failed ${count(figures.failed)}`);
    lines.push(`${load.join(' · ')} · ${count(figures.throughput)}/s`);
  }
  return lines;
}

/**
 * Mermaid reads `#name;`/`#123;` as entities inside labels and HTML in them, so every
 * character that could start markup or end the quoted label becomes a numeric entity.
 */
function mermaidEscape(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[#"<>&`]/g, (c) => `#${c.charCodeAt(0)};`);
}

/** In a DOT quoted string only `"` and `\` (which starts escapes such as `\N`) are special. */
function dotEscape(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"');
}

function checkSteps(
  where: string,
  steps: readonly DiagramStep[],
  stats: readonly StepStats[] | undefined,
): void {
  if (!Array.isArray(steps)) {
    throw invalidArg(`Expected \`${where} steps\` to be an array, got ${describe(steps)}`);
  }
  steps.forEach((step, i) => {
    const at = `${where} steps[${i}]`;
    if (step === null || typeof step !== 'object') {
      throw invalidArg(`Expected \`${at}\` to be a step description, got ${describe(step)}`);
    }
    if (typeof step.name !== 'string') {
      throw invalidArg(`Expected \`${at}.name\` to be a string, got ${describe(step.name)}`);
    }
    if (!KINDS.includes(step.kind)) {
      throw invalidArg(
        `Expected \`${at}.kind\` to be one of ${KINDS.join(', ')}, got ${describe(step.kind)}`,
      );
    }
    checkInteger(`${at}.concurrency`, step.concurrency, 1);
    checkInteger(`${at}.highWaterMark`, step.highWaterMark, 1);
    checkBoolean(`${at}.ordered`, step.ordered);
  });
  if (stats !== undefined && (!Array.isArray(stats) || stats.length !== steps.length)) {
    throw invalidArg(
      `Expected \`${where} stats\` to hold one row per step (${steps.length}), got ${describe(stats)}`,
    );
  }
}
