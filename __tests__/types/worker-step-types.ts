/**
 * Type tests for `workerStep` in a chain: compiled by `npm run typecheck`, never run. A worker
 * step carries its item types (`workerStep<I, O>(...)`) like a function step, so the chain
 * infers through it and gives the next untyped step its input type.
 */
import { expectTypeOf } from 'expect-type';
import { Pipeline, workerStep, type StepInput, type StepOutput, type WorkerStep } from '../../src';

interface Row {
  id: number;
  body: string;
}
interface Hashed {
  id: number;
  hash: string;
}
declare const parse: (line: string) => Row;
declare const store: (hashed: Hashed) => Promise<void>;

const hash = workerStep<Row, Hashed>(new URL('file:///app/hash.mjs'), { export: 'hash' });
expectTypeOf(hash).toEqualTypeOf<WorkerStep<Row, Hashed>>();
expectTypeOf<StepInput<typeof hash>>().toEqualTypeOf<Row>();
expectTypeOf<StepOutput<[typeof hash, 4]>>().toEqualTypeOf<Hashed>();

// The example: [parse, [hash, 4], store] infers string in, nothing out.
expectTypeOf(new Pipeline([parse, [hash, 4], store])).toEqualTypeOf<Pipeline<string, never>>();

// An untyped step after a worker step gets the worker step's output type.
expectTypeOf(
  new Pipeline([
    parse,
    [hash, 2, { ordered: true, maxRetries: 1 }],
    (h) => {
      expectTypeOf(h).toEqualTypeOf<Hashed>();
      return h.hash;
    },
  ]),
).toEqualTypeOf<Pipeline<string, string>>();

// A worker step first: the pipeline's input is the worker step's input.
expectTypeOf(new Pipeline([hash])).toEqualTypeOf<Pipeline<Row, Hashed>>();

// Undefined drops the item, as for a function step.
const maybe = workerStep<number, string | undefined>('/app/maybe.mjs');
expectTypeOf(new Pipeline([maybe])).toEqualTypeOf<Pipeline<number, string>>();

new Pipeline([
  (n: number) => n * 2,
  // @ts-expect-error steps[1] takes a Row, steps[0] emits a number
  hash,
]);

new Pipeline([
  parse,
  hash,
  // @ts-expect-error steps[2] takes a number, steps[1] emits Hashed
  (n: number) => n + 1,
]);

// The builder checks it too.
expectTypeOf(Pipeline.from<string>().pipe(parse).pipe(hash, 4).build()).toEqualTypeOf<
  Pipeline<string, Hashed>
>();
// @ts-expect-error hash takes a Row, the builder's items are strings
Pipeline.from<string>().pipe(hash);

// Step options of the engine only (thread options belong to workerStep itself).
// @ts-expect-error execArgv is not a step option
new Pipeline([parse, [hash, 2, { execArgv: [] }]]);
