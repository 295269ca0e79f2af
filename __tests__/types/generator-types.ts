/**
 * Type tests for generator pipelines and the batching helpers: compiled by `npm run typecheck`,
 * never run. Each `expectTypeOf` states an inferred type; each `@ts-expect-error` marks a line
 * the compiler must reject (an unneeded one fails the typecheck too).
 */
import { expectTypeOf } from 'expect-type';
import {
  chunk,
  combinePipeline,
  flatten,
  identityStep,
  iterStep,
  Pipeline,
  timedChunk,
} from '../../src';

interface Row {
  id: number;
  name: string;
}
declare const toRow: (line: string) => Row;

function* inc(xs: Iterable<number>) {
  for (const x of xs) yield x + 1;
}
function* lengths(xs: Iterable<number[]>) {
  for (const x of xs) yield x.length;
}
async function* asyncSource(n = 3) {
  for (let i = 0; i < n; i++) yield i;
}
async function* asyncInc(xs: AsyncIterable<number>) {
  for await (const x of xs) yield x + 1;
}

// --- combinePipeline: all-sync lists stay sync, whatever their shape -------------------------

const nested = combinePipeline([1, 2, 3], [inc, [inc, chunk(2)]]);
expectTypeOf(nested).toEqualTypeOf<Iterable<number[]>>();
for (const batch of nested) expectTypeOf(batch).toEqualTypeOf<number[]>();

const fiveSteps = combinePipeline([1, 2, 3], [inc, inc, chunk(2), flatten, inc]);
expectTypeOf(fiveSteps).toEqualTypeOf<Iterable<number>>();
for (const n of fiveSteps) expectTypeOf(n).toEqualTypeOf<number>();

const helpers = combinePipeline([[1], [2]], [flatten, inc, identityStep, chunk(3), lengths]);
expectTypeOf(helpers).toEqualTypeOf<Iterable<number>>();

const deepSync = combinePipeline([1], [[inc, [inc, [chunk(4)]]], flatten, [inc, inc, inc]]);
expectTypeOf(deepSync).toEqualTypeOf<Iterable<number>>();

// --- once a stage is async, every later one is; a sync-only step cannot follow ---------------

expectTypeOf(combinePipeline([1], [inc, asyncInc])).toEqualTypeOf<AsyncIterable<number>>();
expectTypeOf(
  combinePipeline([1], [inc, inc, asyncInc, [chunk(2)], flatten, asyncInc]),
).toEqualTypeOf<AsyncIterable<number>>();

// @ts-expect-error inc iterates synchronously, but after asyncInc its input is async
combinePipeline([1, 2, 3], [asyncInc, inc]);
// @ts-expect-error the same, four steps long
combinePipeline([1, 2, 3], [inc, asyncInc, chunk(2), inc]);
// @ts-expect-error a sync-only first step over an async source
combinePipeline(asyncSource(), [inc]);
// @ts-expect-error the same with a source factory
combinePipeline((n: number) => asyncSource(n), [inc, inc]);
expectTypeOf(combinePipeline(asyncSource(), [asyncInc, chunk(2)])).toEqualTypeOf<
  AsyncIterable<number[]>
>();
expectTypeOf(combinePipeline((n: number) => asyncSource(n), [asyncInc])).toEqualTypeOf<
  (n: number) => AsyncIterable<number>
>();
// @ts-expect-error the same, inside a nested list
combinePipeline([1], [asyncInc, [inc, inc], chunk(2)]);

// --- chunk and flatten with type arguments, where nothing else tells the item type -----------

const batches = new Pipeline([toRow, iterStep(chunk<Row>(500)), (batch) => batch.length]);
expectTypeOf(batches).toEqualTypeOf<Pipeline<string, number>>();
new Pipeline([
  toRow,
  iterStep(chunk<Row>(500)),
  (batch) => expectTypeOf(batch).toEqualTypeOf<Row[]>(),
]);
new Pipeline([iterStep(flatten.of<Row[]>()), (row) => expectTypeOf(row).toEqualTypeOf<Row>()]);
const timed = new Pipeline([toRow, timedChunk<Row>({ size: 10, timeout: 50, maxWait: 200 })]);
expectTypeOf(timed).toEqualTypeOf<Pipeline<string, Row[]>>();
// @ts-expect-error chunk<Row> takes rows, not strings
new Pipeline([(s: string) => s, iterStep(chunk<Row>(10))]);

expectTypeOf(chunk<Row>(2)([] as Row[])).toEqualTypeOf<IterableIterator<Row[]>>();
expectTypeOf(flatten.of<number[]>()([[1]])).toEqualTypeOf<IterableIterator<number>>();
