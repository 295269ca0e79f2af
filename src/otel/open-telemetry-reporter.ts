import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import { describe, invalidArg } from '../errors/errors';
import type { LiveRun, Report, Reporter } from '../observe/reporters';
import type { StepStats } from '../types';
import { checkKnownKeys, checkPlainObject } from '../util/validate';

/** Options of `openTelemetryReporter`. */
export interface OpenTelemetryReporterOptions {
  /** The meter the instruments are made on (`metrics.getMeter('my-service')`). */
  meter: Meter;
  /** Attributes added to every measurement, e.g. `{ 'paipa.pipeline': 'ingest' }`. */
  attributes?: Attributes;
}

/** The figures that only grow, summed over runs: what the counters report. */
interface Totals {
  in: number;
  out: number;
  stored: number;
  skipped: number;
  failed: number;
  abandoned: number;
  retried: number;
  restarts: number;
}

const OUTCOMES = ['out', 'stored', 'skipped', 'failed', 'abandoned'] as const;

/** Call durations in seconds: 10 µs to 10 s, a bucket per half decade. */
const DURATION_BUCKETS = [
  0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10,
];

function zero(): Totals {
  return {
    in: 0,
    out: 0,
    stored: 0,
    skipped: 0,
    failed: 0,
    abandoned: 0,
    retried: 0,
    restarts: 0,
  };
}

function add(into: Totals, step: StepStats): void {
  into.in += step.in;
  into.out += step.out;
  into.stored += step.stored;
  into.skipped += step.skipped;
  into.failed += step.failed;
  into.abandoned += step.abandoned;
  into.retried += step.retried;
  into.restarts += step.restarts;
}

/**
 * The reporter behind `openTelemetryReporter`. Instruments are observable and read the live
 * figures when the SDK collects (a Prometheus scrape, an OTLP export), so the metrics are as
 * fresh as the scrape, whatever `reportEvery` is; only the duration histogram is recorded as
 * calls complete. One reporter may serve several pipelines, one after another or at once:
 * counters sum over them by step name, and a finished run's last figures stay in the totals so
 * counters never go down.
 */
class OpenTelemetryReporter implements Reporter {
  readonly #attributes: Attributes;
  readonly #live = new Set<LiveRun>();
  /** Final figures of runs that ended, by step name. */
  readonly #ended = new Map<string, Totals>();
  readonly #stepAttributes = new Map<string, Attributes>();
  readonly #duration: Histogram;

  constructor(meter: Meter, attributes: Attributes) {
    this.#attributes = attributes;
    const items = meter.createObservableCounter('paipa.step.items.received', {
      description: 'Items that entered the step',
      unit: '{item}',
    });
    const handled = meter.createObservableCounter('paipa.step.items.handled', {
      description:
        'Items the step is done with, by outcome (paipa.outcome: out, stored, skipped, failed, abandoned)',
      unit: '{item}',
    });
    const retries = meter.createObservableCounter('paipa.step.retries', {
      description: 'Retry attempts made',
      unit: '{retry}',
    });
    const restarts = meter.createObservableCounter('paipa.step.restarts', {
      description: 'Instances replaced after a failure (the `restart` step option)',
      unit: '{restart}',
    });
    const busy = meter.createObservableGauge('paipa.step.busy', {
      description: 'Instances processing an item now',
      unit: '{instance}',
    });
    const queued = meter.createObservableGauge('paipa.step.queued', {
      description: "Items waiting in the step's input buffer",
      unit: '{item}',
    });
    const inputQueued = meter.createObservableGauge('paipa.pipeline.input.queued', {
      description: 'Items given to the pipeline and not yet taken by its first step',
      unit: '{item}',
    });
    this.#duration = meter.createHistogram('paipa.step.duration', {
      description: "Time inside the step's function per call (steps under 2 µs a call are sampled)",
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    meter.addBatchObservableCallback(
      (result) => {
        const totals = new Map<string, Totals>();
        for (const [name, ended] of this.#ended) totals.set(name, { ...ended });
        const gauges = new Map<string, { busy: number; queued: number }>();
        let input = 0;
        for (const run of this.#live) {
          let steps: StepStats[];
          try {
            steps = run.stats();
            input += run.inputQueued();
          } catch {
            continue; // a run being torn down right now: its figures come with the final report
          }
          for (const step of steps) {
            let total = totals.get(step.name);
            if (total === undefined) totals.set(step.name, (total = zero()));
            add(total, step);
            const gauge = gauges.get(step.name) ?? { busy: 0, queued: 0 };
            gauge.busy += step.busy;
            gauge.queued += step.queued;
            gauges.set(step.name, gauge);
          }
        }
        for (const [name, total] of totals) {
          const attrs = this.#attributesOf(name);
          result.observe(items, total.in, attrs);
          for (const outcome of OUTCOMES) {
            result.observe(handled, total[outcome], { ...attrs, 'paipa.outcome': outcome });
          }
          result.observe(retries, total.retried, attrs);
          result.observe(restarts, total.restarts, attrs);
          const gauge = gauges.get(name) ?? { busy: 0, queued: 0 };
          result.observe(busy, gauge.busy, attrs);
          result.observe(queued, gauge.queued, attrs);
        }
        result.observe(inputQueued, input, this.#attributes);
      },
      [items, handled, retries, restarts, busy, queued, inputQueued],
    );
  }

  #attributesOf(step: string): Attributes {
    let attrs = this.#stepAttributes.get(step);
    if (attrs === undefined) {
      attrs = { ...this.#attributes, 'paipa.step': step };
      this.#stepAttributes.set(step, attrs);
    }
    return attrs;
  }

  attach(run: LiveRun): () => void {
    this.#live.add(run);
    const names = run.stats().map((s) => s.name);
    const histogram = this.#duration;
    const attrs = names.map((name) => this.#attributesOf(name));
    run.onCallDuration((stepIndex, ms) => histogram.record(ms / 1000, attrs[stepIndex]));
    return () => {
      // The run's last figures move to the totals, so the counters keep them.
      this.#live.delete(run);
      for (const step of run.stats()) {
        let total = this.#ended.get(step.name);
        if (total === undefined) this.#ended.set(step.name, (total = zero()));
        add(total, step);
      }
    };
  }

  /** Figures are pulled at collection time; reports bring nothing new. */
  show(_report: Report): void {}
}

/**
 * A reporter that publishes a worker pipeline's figures as OpenTelemetry metrics, per step
 * (attribute `paipa.step`):
 *
 * | metric                        | kind                     | unit         |
 * | ----------------------------- | ------------------------ | ------------ |
 * | `paipa.step.items.received`   | counter                  | `{item}`     |
 * | `paipa.step.items.handled`    | counter, `paipa.outcome` | `{item}`     |
 * | `paipa.step.retries`          | counter                  | `{retry}`    |
 * | `paipa.step.restarts`         | counter                  | `{restart}`  |
 * | `paipa.step.busy`             | gauge                    | `{instance}` |
 * | `paipa.step.queued`           | gauge                    | `{item}`     |
 * | `paipa.pipeline.input.queued` | gauge (no step)          | `{item}`     |
 * | `paipa.step.duration`         | histogram                | `s`          |
 *
 * `paipa.outcome` is `out`, `stored`, `skipped`, `failed` or `abandoned`: summed over outcomes,
 * `handled` equals `received` minus the items inside the step. Counters and gauges are read
 * when the SDK collects. The histogram records every call of a step that costs 25 µs or more,
 * and a regular sample of cheaper calls (about one per 25 µs of work), so recording stays
 * within a few percent of the step's own time: its count is of recorded calls, not all calls. Use the same reporter for
 * several pipelines: figures add up by step name (give the steps distinct names, or one
 * reporter per pipeline with `attributes`).
 *
 * Needs `@opentelemetry/api` (an optional peer dependency of paipa) and an SDK with an
 * exporter, e.g. `@opentelemetry/sdk-metrics` with `@opentelemetry/exporter-prometheus`.
 * Throws a TypeError for a missing `meter` or an unknown option.
 *
 * @example
 * import { openTelemetryReporter } from 'paipa/otel';
 * const meter = metrics.getMeter('ingest');
 * const p = new Pipeline(steps, { reporters: [openTelemetryReporter({ meter })] });
 */
export function openTelemetryReporter(options: OpenTelemetryReporterOptions): Reporter {
  checkPlainObject('openTelemetryReporter options', options);
  checkKnownKeys('openTelemetryReporter options', options, ['meter', 'attributes']);
  const { meter, attributes } = options;
  if (
    meter === null ||
    typeof meter !== 'object' ||
    typeof (meter as Partial<Meter>).createObservableCounter !== 'function'
  ) {
    throw invalidArg(
      `Expected \`openTelemetryReporter options.meter\` to be an OpenTelemetry Meter, got ${describe(meter)}`,
    );
  }
  if (attributes !== undefined)
    checkPlainObject('openTelemetryReporter options.attributes', attributes);
  return new OpenTelemetryReporter(meter, attributes ?? {});
}
