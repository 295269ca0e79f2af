import { renderDot, renderMermaid, type DiagramStep } from '../../src/observe/diagram';
import { Pipeline } from '../../src/chain/typed-pipeline';
import { range, statsRow } from '../support/helpers';

function step(name: string, concurrency = 1, extra: Partial<DiagramStep> = {}): DiagramStep {
  return { name, kind: 'func', concurrency, highWaterMark: 16, ordered: false, ...extra };
}

const row = statsRow;

const threeSteps: DiagramStep[] = [
  step('download', 4, { kind: 'class', highWaterMark: 8 }),
  step('parse', 1, { ordered: true }),
  step('store', 2, { kind: 'stream' }),
];

/** Node ids declared in a DOT text (`id [label=...]` lines). */
const dotNodes = (dot: string) => [...dot.matchAll(/^ {2}(\w+) \[label=/gm)].map((m) => m[1]);
const dotEdges = (dot: string) => [...dot.matchAll(/^ {2}(\w+) -> (\w+)/gm)].map((m) => m.slice(1));

describe('renderMermaid', () => {
  test('a 3-step pipeline names every step with its kind, concurrency and bound', () => {
    const text = renderMermaid(threeSteps);
    expect(text.startsWith('flowchart LR\n')).toBe(true);
    expect(text).toContain('s0["download<br/>class · ×4 · hwm 8"]');
    expect(text).toContain('s1["parse<br/>func · ×1 · hwm 16 · ordered"]');
    expect(text).toContain('s2["store<br/>stream · ×2 · hwm 16"]');
    expect(text).toContain('source(["input"])');
    expect(text).toContain('sink(["output"])');
  });

  test('a step with n instances fans out to n instance nodes and merges back', () => {
    const text = renderMermaid(threeSteps);
    for (const k of [0, 1, 2, 3]) {
      expect(text).toContain(`s0 --> s0_${k}`);
      expect(text).toContain(`s0_${k} --> s0_merge`);
    }
    expect(text).toContain('source -->|"hwm 8"| s0');
    expect(text).toContain('s0_merge -->|"hwm 16"| s1');
    expect(text).toContain('s1 -->|"hwm 16"| s2');
    expect(text).toContain('s2_merge --> sink');
    expect(text).not.toContain('s1_merge'); // concurrency 1: a single node
  });

  test('many instances show four and a "… n more" node', () => {
    const text = renderMermaid([step('fetch', 32)]);
    expect(text).toContain('s0_3("#35;3")');
    expect(text).not.toContain('s0_4');
    expect(text).toContain('s0_more("… 28 more")');
    expect(text).toContain('class s0_more more');
    // five instances are all drawn: a "… 1 more" node would save nothing
    expect(renderMermaid([step('fetch', 5)])).toContain('s0_4("#35;4")');
  });

  test('stats add live figures to nodes and edges', () => {
    const stats = [
      row('download', { in: 1_200, out: 1_180, busy: 4, queued: 8, throughput: 320.4 }),
      row('parse', { in: 1_180, out: 1_170, failed: 2 }),
      row('store', { in: 1_170, out: 1_150 }),
    ];
    const text = renderMermaid(threeSteps, stats);
    expect(text).toContain('source -->|"hwm 8 · 1,200 items"| s0');
    expect(text).toContain('in 1,200 · out 1,180<br/>busy 4 · queued 8 · 320/s');
    expect(text).toContain('busy 0 · queued 0 · failed 2 · 0/s');
    expect(text).toContain('s2_merge -->|"1,150 items"| sink');
  });

  test('names with quotes, brackets and markup are escaped', () => {
    const text = renderMermaid([step('a"b[c]'), step('<x>&#y;`z`\nw')]);
    expect(text).toContain('s0["a#34;b[c]<br/>');
    expect(text).toContain('s1["#60;x#62;#38;#35;y;#96;z#96; w<br/>');
    // every label is one quoted string: exactly two quotes per node line
    for (const line of text.split('\n').filter((l) => /^ {2}s\d\[/.test(l))) {
      expect(line.match(/"/g)).toHaveLength(2);
    }
  });

  test('an empty pipeline is the input joined to the output', () => {
    expect(renderMermaid([])).toBe(
      'flowchart LR\n  source(["input"])\n  sink(["output"])\n  source --> sink\n',
    );
  });
});

describe('renderDot', () => {
  test('is a digraph with one node per step, instance, merge and end', () => {
    const dot = renderDot(threeSteps);
    expect(dot.startsWith('digraph paipa {\n  rankdir=LR;\n')).toBe(true);
    expect(dot.trimEnd().endsWith('}')).toBe(true);
    // input + output, download (1 + 4 instances + merge), parse (1), store (1 + 2 + merge)
    expect(dotNodes(dot)).toHaveLength(2 + 6 + 1 + 4);
    expect(dotEdges(dot)).toHaveLength(4 + 8 + 4);
    expect(dot).toContain('s0 [label="download\\nclass · ×4 · hwm 8", shape=box];');
    expect(dot).toContain('s0_merge [label="merge", shape=point];');
    expect(dot).toContain('source -> s0 [label="hwm 8"];');
  });

  test('every edge joins declared nodes', () => {
    const dot = renderDot([step('a', 9), step('b', 3), step('c')]);
    const nodes = new Set(dotNodes(dot));
    for (const [from, to] of dotEdges(dot)) {
      expect(nodes.has(from)).toBe(true);
      expect(nodes.has(to)).toBe(true);
    }
    expect(dot).toContain('s0_more [label="… 5 more", shape=box, style="rounded,dashed"];');
  });

  test('stats and escaping', () => {
    const dot = renderDot([step('a"b[c]\\N')], [row('x', { in: 3, out: 2 })]);
    expect(dot).toContain('s0 [label="a\\"b[c]\\\\N\\nfunc · ×1 · hwm 16\\nin 3 · out 2');
    expect(dot).toContain('source -> s0 [label="hwm 16 · 3 items"];');
    expect(dot).toContain('s0 -> sink [label="2 items"];');
  });

  test('draws a real pipeline from its stats', async () => {
    const p = new Pipeline([[(n: number) => n, 3], (n: number) => n]);
    p.putAll(range(10));
    const { steps } = await p.run();
    const described = steps.map((s) => step(s.name, s.concurrency));
    const dot = renderDot(described, steps);
    expect(dot).toContain('s1 -> sink [label="10 items"];');
  });
});

describe('diagram input is checked', () => {
  test.each([
    [[{ ...step('a'), concurrency: 0 }], undefined, /`renderMermaid steps\[0\].concurrency`/],
    [[{ ...step('a'), highWaterMark: 'x' }], undefined, /`renderMermaid steps\[0\].highWaterMark`/],
    [[{ ...step('a'), kind: 'gen' }], undefined, /steps\[0\].kind` to be one of func, class/],
    [[{ ...step('a'), name: 3 }], undefined, /steps\[0\].name` to be a string, got 3/],
    [[{ ...step('a'), ordered: 'yes' }], undefined, /steps\[0\].ordered`/],
    [[null], undefined, /steps\[0\]` to be a step description, got null/],
    ['a', undefined, /`renderMermaid steps` to be an array/],
    [[step('a')], [], /`renderMermaid stats` to hold one row per step \(1\), got \[\]/],
  ])('%#', (steps, stats, message) => {
    expect(() => renderMermaid(steps as never, stats as never)).toThrow(message);
  });
});
