/**
 * Type tests for `new Pipeline([...])`: compiled by `npm run typecheck`, never run. Each
 * `expectTypeOf` states an inferred type; each `@ts-expect-error` marks a line the compiler
 * must reject (an unneeded one fails the typecheck too).
 */
import type { Duplex } from 'node:stream';
import { expectTypeOf } from 'expect-type';
import {
  chunk,
  flatten,
  funcStep,
  iterStep,
  Pipeline,
  Step,
  streamStep,
  timedChunk,
  type RunResult,
  type StepContext,
  type StepSpec,
} from '../../src';

interface Page {
  url: string;
  links: string[];
}
interface Row {
  id: number;
  name: string;
}
declare const download: (url: string) => Promise<Page>;
declare const toRow: (line: string) => Row;
declare const save: (row: Row) => Promise<void>;

class Double extends Step<number, number> {
  process(n: number) {
    return n * 2;
  }
}
/** No explicit generics: the types come from `process`. */
class Describe extends Step {
  process(n: number) {
    return `#${n}`;
  }
}
class Store extends Step<Row[], number, { table: string }> {
  async process(rows: Row[]) {
    return rows.length;
  }
}

// ---- function steps -------------------------------------------------------------------------

// One sync step: input from its parameter, output from its return type.
expectTypeOf(new Pipeline([(n: number) => String(n)])).toEqualTypeOf<Pipeline<number, string>>();

// An async step emits what its promise resolves to.
expectTypeOf(new Pipeline([download])).toEqualTypeOf<Pipeline<string, Page>>();
expectTypeOf(new Pipeline([async (n: number) => n > 0])).toEqualTypeOf<Pipeline<number, boolean>>();

// undefined and null drop the item, so they are not part of the output type.
expectTypeOf(new Pipeline([(n: number) => (n % 2 ? n : undefined)])).toEqualTypeOf<
  Pipeline<number, number>
>();
expectTypeOf(new Pipeline([async (s: string) => (s ? s.length : null)])).toEqualTypeOf<
  Pipeline<string, number>
>();
// A step that only ever drops (a sink) emits nothing.
expectTypeOf(new Pipeline([toRow, save])).toEqualTypeOf<Pipeline<string, never>>();

// The context argument is typed too.
new Pipeline([
  (n: number, ctx) => {
    expectTypeOf(ctx).toEqualTypeOf<StepContext>();
    return n;
  },
]);

// Untyped parameters after the first step take the type of what the step before emits, all the
// way down the chain, through tuples and async functions.
expectTypeOf(
  new Pipeline([
    (url: string) => download(url),
    (page) => {
      expectTypeOf(page).toEqualTypeOf<Page>();
      return page.links;
    },
    [
      async (links) => {
        expectTypeOf(links).toEqualTypeOf<string[]>();
        return links.length;
      },
      4,
    ],
    [(count) => count > 1, 2, { name: 'many' }],
  ]),
).toEqualTypeOf<Pipeline<string, boolean>>();

// The first step's parameter is the pipeline's input: nobody but the author knows its type.
// @ts-expect-error 'n' is of type 'unknown'.
new Pipeline([(n) => n + 1]);

// ---- mismatched neighbours: the error is on the step that cannot take its input -----------

new Pipeline([
  (n: number) => n * 2,
  // @ts-expect-error steps[1] takes a string, steps[0] emits a number
  (s: string) => s.length,
]);

new Pipeline([
  (n: number) => n * 2,
  (n) => n + 1,
  // @ts-expect-error steps[2] takes a string, steps[1] emits a number
  [(s: string) => s.length, 3],
]);

// A union is not narrowed on the way: a step taking only numbers cannot follow one that may
// emit a string.
new Pipeline([
  (n: number) => (n > 0 ? n : 'negative'),
  // @ts-expect-error steps[1] takes a number, steps[0] emits number | string
  (n: number) => n,
]);

// An untyped step is typed from its input; using it wrongly is an error in its body.
new Pipeline([
  (n: number) => n,
  // @ts-expect-error Property 'toUpperCase' does not exist on type 'number'.
  (n) => n.toUpperCase(),
]);

// ---- Step subclasses ------------------------------------------------------------------------

expectTypeOf(new Pipeline([Double])).toEqualTypeOf<Pipeline<number, number>>();
expectTypeOf(new Pipeline([Describe])).toEqualTypeOf<Pipeline<number, string>>();
expectTypeOf(new Pipeline([[Double, 2], Describe, (s) => s.length])).toEqualTypeOf<
  Pipeline<number, number>
>();
// Options of a subclass's own are typed from its `Options` parameter.
expectTypeOf(
  new Pipeline([(line: string) => [toRow(line)], [Store, 2, { table: 'rows' }]]),
).toEqualTypeOf<Pipeline<string, number>>();

new Pipeline([
  (n: number) => String(n),
  // @ts-expect-error steps[1] (Double) takes a number, steps[0] emits a string
  Double,
]);
new Pipeline([
  (n: number) => (n > 0 ? n : 'negative'),
  // @ts-expect-error process() is checked strictly, not bivariantly like a method
  [Describe, 2],
]);
new Pipeline([
  (line: string) => [toRow(line)],
  // @ts-expect-error Store needs its `table` option
  [Store, 2, {}],
]);
new Pipeline([
  (line: string) => [toRow(line)],
  // @ts-expect-error `table` is a string
  [Store, 2, { table: 1 }],
]);

// ---- funcStep, iterStep, streamStep ---------------------------------------------------------

expectTypeOf(new Pipeline([funcStep((n: number) => [n], 'wrap')])).toEqualTypeOf<
  Pipeline<number, number[]>
>();
expectTypeOf(
  new Pipeline([funcStep(async (n: number) => (n ? String(n) : undefined))]),
).toEqualTypeOf<Pipeline<number, string>>();

const pairs = iterStep(async function* (items: AsyncIterable<number>) {
  let prev: number | undefined;
  for await (const n of items) {
    if (prev !== undefined) yield [prev, n] as const;
    prev = n;
  }
});
expectTypeOf(new Pipeline([(s: string) => s.length, pairs, ([a, b]) => a + b])).toEqualTypeOf<
  Pipeline<string, number>
>();
new Pipeline([
  (s: string) => s,
  // @ts-expect-error pairs takes numbers, steps[0] emits strings
  pairs,
]);

// Generic helpers cannot be instantiated from their place in a list: they pass `any` on, so
// they never fail the step after them (typed or not).
expectTypeOf(new Pipeline([toRow, iterStep(chunk(100)), Store])).toEqualTypeOf<
  Pipeline<string, number>
>();
new Pipeline([
  toRow,
  iterStep(chunk(100)),
  (rows) => {
    expectTypeOf(rows).toEqualTypeOf<any[]>();
    return rows.length;
  },
]);
expectTypeOf(new Pipeline([(s: string) => [s, s], iterStep(flatten)])).toEqualTypeOf<
  Pipeline<string, any>
>();
expectTypeOf(
  new Pipeline([(s: string) => [s, s], iterStep(flatten), (x: string) => x.length]),
).toEqualTypeOf<Pipeline<string, number>>();

// An untyped stream step takes and emits anything; a typed one is checked like the others.
declare const gunzip: () => NodeJS.ReadWriteStream;
expectTypeOf(new Pipeline([(s: string) => Buffer.from(s), streamStep(gunzip)])).toEqualTypeOf<
  Pipeline<string, any>
>();
const lines = streamStep<Buffer, string>(gunzip);
expectTypeOf(new Pipeline([(s: string) => Buffer.from(s), lines, toRow])).toEqualTypeOf<
  Pipeline<string, Row>
>();
new Pipeline([
  (n: number) => n,
  // @ts-expect-error lines takes Buffers, steps[0] emits numbers
  [lines, 1],
]);

// timedChunk is a stream step of `unknown` items: its batches pass on as `any[]`.
new Pipeline([
  toRow,
  [timedChunk({ size: 100, timeout: 500 }), 1],
  (rows) => {
    expectTypeOf(rows).toEqualTypeOf<any[]>();
    return rows.length;
  },
]);
expectTypeOf(
  new Pipeline([toRow, [timedChunk<Row>({ size: 100, timeout: 500 }), 1], Store]),
).toEqualTypeOf<Pipeline<string, number>>();

// ---- the step list itself -------------------------------------------------------------------

new Pipeline([
  (n: number) => n,
  // @ts-expect-error a number is not a step
  42,
]);
new Pipeline([
  (n: number) => n,
  // @ts-expect-error concurrency is a number
  [(n: number) => n, '4'],
]);
new Pipeline([
  (n: number) => n,
  // @ts-expect-error function steps take the engine's options only
  [(n: number) => n, 2, { nmae: 'typo' }],
]);

// Chains of one to eight steps, untyped after the first: the output follows each step.
const len = (s: string) => s.length;
expectTypeOf(new Pipeline([len])).toEqualTypeOf<Pipeline<string, number>>();
expectTypeOf(new Pipeline([len, (n) => n > 1])).toEqualTypeOf<Pipeline<string, boolean>>();
expectTypeOf(new Pipeline([len, (n) => n > 1, (b) => [b]])).toEqualTypeOf<
  Pipeline<string, boolean[]>
>();
expectTypeOf(new Pipeline([len, (n) => n > 1, (b) => [b], (bs) => bs.length])).toEqualTypeOf<
  Pipeline<string, number>
>();
expectTypeOf(
  new Pipeline([len, (n) => n > 1, (b) => [b], (bs) => bs.length, (n) => `${n}`]),
).toEqualTypeOf<Pipeline<string, string>>();
expectTypeOf(
  new Pipeline([len, (n) => n > 1, (b) => [b], (bs) => bs.length, (n) => `${n}`, len]),
).toEqualTypeOf<Pipeline<string, number>>();
expectTypeOf(
  new Pipeline([
    len,
    (n) => n > 1,
    (b) => [b],
    (bs) => bs.length,
    (n) => `${n}`,
    len,
    async (n) => ({ n }),
  ]),
).toEqualTypeOf<Pipeline<string, { n: number }>>();

// Chains of any length up to ten are inferred step by step...
expectTypeOf(
  new Pipeline([
    (s: string) => s.length,
    (n) => n * 2,
    (n) => String(n),
    (s) => s.split(''),
    (chars) => chars.length,
    [(n) => n > 3, 2],
    (b) => (b ? 'yes' : 'no'),
    (s) => ({ answer: s }),
  ]),
).toEqualTypeOf<Pipeline<string, { answer: string }>>();

new Pipeline([
  (s: string) => s.length,
  (n) => n * 2,
  (n) => String(n),
  (s) => s.split(''),
  (chars) => chars.length,
  (n) => n > 3,
  // @ts-expect-error steps[6] takes a number, steps[5] emits a boolean
  (n: number) => n,
  (n) => n,
]);

// ...and longer ones are still checked and typed, but their untyped parameters are `any`.
const inc = (n: number) => n + 1;
expectTypeOf(
  new Pipeline([inc, inc, inc, inc, inc, inc, inc, inc, inc, inc, (n: number) => String(n)]),
).toEqualTypeOf<Pipeline<number, string>>();
new Pipeline([
  inc,
  inc,
  inc,
  inc,
  inc,
  inc,
  inc,
  inc,
  inc,
  (n: number) => String(n),
  // @ts-expect-error steps[10] takes a number, steps[9] emits a string
  inc,
]);

// A list whose length is not known statically (built at runtime) is not checked: any in, any out.
declare const configured: StepSpec[];
expectTypeOf(new Pipeline(configured)).toEqualTypeOf<Pipeline<any, any>>();
declare const untyped: unknown[];
expectTypeOf(new Pipeline(untyped)).toEqualTypeOf<Pipeline<any, any>>();
// `as const` keeps a list declared elsewhere a tuple, so it is checked.
const steps = [toRow, (row: Row) => row.id] as const;
expectTypeOf(new Pipeline(steps)).toEqualTypeOf<Pipeline<string, number>>();

// Stating the types instead of inferring them.
expectTypeOf(new Pipeline<string, number>(configured)).toEqualTypeOf<Pipeline<string, number>>();

// ---- what the types reach: put, iteration, stream(), run() ----------------------------------

async function consumers(): Promise<void> {
  const p = new Pipeline([toRow, (row) => row.name]);

  expectTypeOf(p.put).parameter(0).toEqualTypeOf<string>();
  p.put('a line');
  // @ts-expect-error the input is strings
  p.put(1);
  p.putAll(['a', 'b']);
  // @ts-expect-error the input is strings
  p.putAll([1, 2]);
  p.putIterable(
    (async function* () {
      yield 'x';
    })(),
  );
  // @ts-expect-error the input is strings
  p.putIterable(new Set([1]));

  for await (const name of p) expectTypeOf(name).toEqualTypeOf<string>();
  expectTypeOf(p).toExtend<AsyncIterable<string>>();
  expectTypeOf(p).not.toExtend<AsyncIterable<number>>();

  expectTypeOf(p.stream()).toEqualTypeOf<Duplex>();
  expectTypeOf(p.run()).toEqualTypeOf<Promise<RunResult>>();
  expectTypeOf(p.start().stop()).toEqualTypeOf<Promise<RunResult>>();
  expectTypeOf(p.putAll(['a'])).toEqualTypeOf<Pipeline<string, string>>();
}
void consumers;

// ---- Pipeline as a class ----------------------------------------------------------------------

declare const something: unknown;
if (something instanceof Pipeline) expectTypeOf(something).toEqualTypeOf<Pipeline<any, any>>();

class Loose extends Pipeline {}
expectTypeOf(new Loose([(n: number) => n])).toEqualTypeOf<Loose>();

class RowNames extends Pipeline<string, string> {
  constructor() {
    super([toRow, (row: Row) => row.name]);
  }
}
expectTypeOf(new RowNames().put).parameter(0).toEqualTypeOf<string>();
