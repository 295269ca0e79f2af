// Scenario 1: what a library costs per item when the work itself is nearly free. 1M numbers
// through three cheap sync maps at concurrency 1; the plain loop is the floor.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expectedOf, range } from '../lib/workload.mjs';
import { mapTransform, streamBlocks, tallySink } from '../lib/streams.mjs';

const inc = (x) => x + 1;
const dbl = (x) => x * 2;
const dec = (x) => x - 3;
const outputOf = (i) => dec(dbl(inc(i)));

/** paipa's run() has no user sink: the last step feeds the tally, which is the same work. */
const decInto = (tally) => (x) => {
  const y = dec(x);
  tally.add(y);
  return y;
};

export const contenders = [
  {
    name: 'plain loop',
    role: 'limit',
    load: async () => (n, tally) => {
      for (const x of range(n)) tally.add(dec(dbl(inc(x))));
    },
  },
  {
    name: 'Node core Transforms',
    role: 'core',
    load: async () => (n, tally) =>
      pipeline(
        Readable.from(range(n)),
        mapTransform(inc),
        mapTransform(dbl),
        mapTransform(dec),
        tallySink(tally),
      ),
  },
  {
    name: 'readable-stream@4 Transforms',
    role: 'peer',
    load: async () => {
      const { mapTransform: map, tallySink: sink } = streamBlocks(await import('readable-stream'));
      return (n, tally) =>
        pipeline(Readable.from(range(n)), map(inc), map(dbl), map(dec), sink(tally));
    },
  },
  {
    // through2@4 builds on readable-stream@3, a different stream implementation than @4.
    name: 'through2',
    role: 'peer',
    load: async () => {
      const { default: through2 } = await import('through2');
      const map = (fn) =>
        through2.obj(function (chunk, _encoding, callback) {
          callback(null, fn(chunk));
        });
      return (n, tally) =>
        pipeline(Readable.from(range(n)), map(inc), map(dbl), map(dec), tallySink(tally));
    },
  },
  {
    name: 'highland',
    role: 'peer',
    load: async () => {
      const { default: _ } = await import('highland');
      return (n, tally) =>
        new Promise((resolve, reject) =>
          _(range(n))
            .map(inc)
            .map(dbl)
            .map(dec)
            .stopOnError(reject)
            .each((x) => tally.add(x))
            .done(resolve),
        );
    },
  },
  {
    name: 'stream-chain',
    role: 'peer',
    load: async () => {
      const { default: chain } = await import('stream-chain');
      return (n, tally) =>
        pipeline(Readable.from(range(n)), chain([inc, dbl, dec]), tallySink(tally));
    },
  },
  {
    name: 'streaming-iterables',
    role: 'peer',
    load: async () => {
      const { consume, map, pipeline: iterPipeline, tap } = await import('streaming-iterables');
      return (n, tally) =>
        iterPipeline(
          () => range(n),
          map(inc),
          map(dbl),
          map(dec),
          tap((x) => tally.add(x)),
          consume,
        );
    },
  },
  {
    name: 'paipa Pipeline run()',
    role: 'paipa',
    reference: true,
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        const p = new paipa.Pipeline([inc, dbl, decInto(tally)]);
        p.putIterable(range(n));
        return { reportedCount: (await p.run()).count };
      };
    },
  },
  {
    // Acknowledgements on (issue 11): every input acked once its output is counted.
    name: 'paipa run() with onAck',
    role: 'paipa',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        let acked = 0;
        const p = new paipa.Pipeline([inc, dbl, decInto(tally)], { onAck: () => acked++ });
        p.putIterable(range(n));
        const { count } = await p.run();
        if (acked !== n) throw new Error(`acked ${acked} of ${n} inputs`);
        return { reportedCount: count };
      };
    },
  },
  {
    name: 'paipa run() with onCheckpoint',
    role: 'paipa',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        let last = -1;
        const p = new paipa.Pipeline([inc, dbl, decInto(tally)], {
          onCheckpoint: (seq) => (last = seq),
        });
        p.putIterable(range(n));
        const { count } = await p.run();
        if (last !== n - 1) throw new Error(`last checkpoint ${last}, expected ${n - 1}`);
        return { reportedCount: count };
      };
    },
  },
  {
    // The same run with every figure published as OpenTelemetry metrics (issue 15: at most
    // 1.1x the reference). The reader is a Prometheus exporter that nobody scrapes: what is
    // measured is recording, not export.
    name: 'paipa run() + OpenTelemetry reporter',
    role: 'paipa',
    load: async () => {
      const { paipa, paipaOtel } = await import('../lib/paipa.mjs');
      const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
      const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
      const provider = new MeterProvider({
        readers: [new PrometheusExporter({ preventServerStart: true })],
      });
      const reporter = paipaOtel.openTelemetryReporter({ meter: provider.getMeter('bench') });
      return async (n, tally) => {
        const p = new paipa.Pipeline([inc, dbl, decInto(tally)], { reporters: [reporter] });
        p.putIterable(range(n));
        return { reportedCount: (await p.run()).count };
      };
    },
  },
  {
    name: 'paipa for await',
    role: 'paipa',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        const p = new paipa.Pipeline([inc, dbl, dec]);
        p.putIterable(range(n));
        for await (const x of p) tally.add(x);
      };
    },
  },
  {
    name: 'paipa stream() in stream.pipeline',
    role: 'paipa',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return (n, tally) =>
        pipeline(
          Readable.from(range(n)),
          new paipa.Pipeline([inc, dbl, dec]).stream(),
          tallySink(tally),
        );
    },
  },
  {
    name: 'paipa combinePipeline',
    role: 'paipa',
    needs: 'combinePipeline',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      // Its steps are generator functions over the items: no concurrency, no buffers.
      const each = (fn) =>
        function* (items) {
          for (const x of items) yield fn(x);
        };
      return (n, tally) => {
        for (const x of paipa.combinePipeline(range(n), [each(inc), each(dbl), each(dec)])) {
          tally.add(x);
        }
      };
    },
  },
];

export default {
  id: 's1',
  title: 'Per-item overhead',
  what: 'Numbers through 3 cheap sync map steps (x+1, x*2, x-3), concurrency 1',
  metric: 'time',
  cases: { full: [{ n: 1_000_000 }], quick: [{ n: 20_000 }] },
  warmup: { full: 20_000, quick: 2_000 },
  rounds: { full: 5, quick: 1 },
  expected: ({ n }) => expectedOf(n, outputOf),
  notes: [
    'through2@4 (built on readable-stream@3) retains memory in proportion to the input in this setup, hence its peak RSS: its stream buffers stay at one item each, yet with `--max-old-space-size=100` it runs out of heap on this input.',
  ],
  contenders,
};
