/**
 * Type tests for `Pipeline.from<I>().pipe(...).build()`: compiled by `npm run typecheck`, never
 * run. Each `expectTypeOf` states an inferred type; each `@ts-expect-error` marks a line the
 * compiler must reject (an unneeded one fails the typecheck too).
 */
import { expectTypeOf } from 'expect-type';
import {
  chunk,
  flatten,
  funcStep,
  iterStep,
  Pipeline,
  Step,
  streamStep,
  type PipelineBuilder,
} from '../../src';

interface Page {
  url: string;
  links: string[];
}
declare const download: (url: string) => Promise<Page>;
class StoreLinks extends Step<string[], number, { table: string }> {
  async process(links: string[]) {
    return links.length;
  }
}
class Describe extends Step {
  process(n: number) {
    return `#${n}`;
  }
}

// The builder starts from the input type; each pipe() moves its output type on.
expectTypeOf(Pipeline.from<string>()).toEqualTypeOf<PipelineBuilder<string, string>>();
expectTypeOf(Pipeline.from<string>().pipe(download, 4)).toEqualTypeOf<
  PipelineBuilder<string, Page>
>();

// Every step is typed from the one before it, the first one included.
const built = Pipeline.from<string>()
  .pipe((url) => {
    expectTypeOf(url).toEqualTypeOf<string>();
    return download(url);
  }, 4)
  .pipe((page, ctx) => {
    expectTypeOf(page).toEqualTypeOf<Page>();
    return ctx.index > 0 ? page.links : undefined;
  })
  .pipe(iterStep(chunk(10)))
  .pipe(iterStep(flatten))
  .pipe(funcStep((link: string) => [link]))
  .pipe(StoreLinks, 2, { table: 'links', maxRetries: 1 })
  .pipe(Describe)
  .pipe((s) => s.length, 1, { name: 'length' })
  .build({ ordered: true });
expectTypeOf(built).toEqualTypeOf<Pipeline<string, number>>();

// A builder is immutable: each pipe() returns a new one, so prefixes can be shared.
const prefix = Pipeline.from<number>().pipe((n) => n * 2);
expectTypeOf(prefix.pipe(String).build()).toEqualTypeOf<Pipeline<number, string>>();
expectTypeOf(prefix.pipe((n) => n > 2).build()).toEqualTypeOf<Pipeline<number, boolean>>();
expectTypeOf(prefix.steps).toEqualTypeOf<readonly unknown[]>();

// A subclass's builder builds that subclass at runtime (typed as a Pipeline).
class Numbers extends Pipeline {}
expectTypeOf(Numbers.from<number>().pipe(String).build()).toEqualTypeOf<Pipeline<number, string>>();

// ---- what does not compile: the error is on the pipe() call at fault ------------------------

Pipeline.from<number>()
  .pipe((n) => n * 2)
  // @ts-expect-error this step takes strings, the step before emits numbers
  .pipe((s: string) => s.length);

Pipeline.from<number>()
  .pipe((n) => (n > 0 ? n : 'negative'))
  // @ts-expect-error Describe takes numbers only; process() is checked strictly
  .pipe(Describe);

Pipeline.from<number>()
  // @ts-expect-error a Buffer stream cannot take numbers
  .pipe(streamStep<Buffer, string>(() => process.stdin));

// An untyped stream step takes anything.
expectTypeOf(Pipeline.from<number>().pipe(streamStep(() => process.stdin))).toEqualTypeOf<
  PipelineBuilder<number, any>
>();

Pipeline.from<string[]>()
  // @ts-expect-error StoreLinks needs its `table` option
  .pipe(StoreLinks, 2, {});

Pipeline.from<string[]>()
  // @ts-expect-error `table` is a string
  .pipe(StoreLinks, 2, { table: 1 });

Pipeline.from<number>()
  // @ts-expect-error function steps take the engine's options only
  .pipe((n) => n, 2, { nmae: 'typo' });

Pipeline.from<number>()
  // @ts-expect-error concurrency is a number
  .pipe((n) => n, '2');

// @ts-expect-error the input is numbers
Pipeline.from<number>().pipe(String).build().put('1');
