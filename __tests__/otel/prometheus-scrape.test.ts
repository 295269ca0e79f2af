import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Pipeline, type StepStats } from '../../src';
import { openTelemetryReporter } from '../../src/otel';
import { deferred, delay, range, watchdog } from '../support/helpers';

/** A /metrics endpoint on 127.0.0.1 served by the exporter's own request handler. */
async function metricsEndpoint() {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  const server: Server = createServer((req, res) => {
    // No Date header: Node caches it behind a timer that would outlive the test.
    res.sendDate = false;
    exporter.getMetricsRequestHandler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const scrape = () =>
    watchdog(
      new Promise<string>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (s: string) => (body += s));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      }),
      5000,
      'GET /metrics',
    );
  const close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await provider.shutdown();
  };
  return { meter: provider.getMeter('paipa-test'), scrape, close };
}

/** The value of one sample line, e.g. `paipa_step_busy{paipa_step="parse"}`. */
function sample(body: string, metric: string, labels: Record<string, string>): number {
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const labelText = line.slice(metric.length + 1, line.indexOf('}'));
    const found = Object.fromEntries(
      [...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) {
      return Number(
        line
          .slice(line.indexOf('}') + 1)
          .trim()
          .split(' ')[0],
      );
    }
  }
  throw new Error(`no ${metric} ${JSON.stringify(labels)} in:\n${body}`);
}

function expectCounters(body: string, step: StepStats): void {
  const labels = { paipa_step: step.name };
  expect(sample(body, 'paipa_step_items_received_total', labels)).toBe(step.in);
  for (const outcome of ['out', 'stored', 'skipped', 'failed', 'abandoned'] as const) {
    expect(
      sample(body, 'paipa_step_items_handled_total', { ...labels, paipa_outcome: outcome }),
    ).toBe(step[outcome]);
  }
  expect(sample(body, 'paipa_step_retries_total', labels)).toBe(step.retried);
  expect(sample(body, 'paipa_step_restarts_total', labels)).toBe(step.restarts);
}

describe('openTelemetryReporter through a Prometheus scrape', () => {
  test('a finished run: counters over HTTP equal p.stats(), and call durations are counted', async () => {
    const endpoint = await metricsEndpoint();
    try {
      let attempts = 0;
      const p = new Pipeline(
        [
          (n: number) => n * 2,
          [
            async (n: number) => {
              if (n === 8 && attempts++ === 0) throw new Error('flaky');
              await delay(1);
              return n % 3 === 0 ? undefined : n;
            },
            3,
          ],
          (n: number) => {
            void n; // a sink: stores the item
          },
        ],
        { reporters: [openTelemetryReporter({ meter: endpoint.meter })], maxRetries: 1 },
      );
      p.putAll(range(30));
      await p.run();
      const body = await endpoint.scrape();
      const stats = p.stats();
      for (const step of stats) expectCounters(body, step);
      expect(stats[1].retried).toBe(1);
      expect(stats[2].stored).toBe(20);
      // step1 costs over 25 µs a call: every call is in the histogram (30 items, 1 retry).
      expect(sample(body, 'paipa_step_duration_count', { paipa_step: 'step1' })).toBe(31);
      expect(sample(body, 'paipa_step_duration_sum', { paipa_step: 'step1' })).toBeGreaterThan(
        0.025,
      );
      // step0 is a cheap sync map: a paced sample of its calls, so recording stays cheap.
      const cheap = sample(body, 'paipa_step_duration_count', { paipa_step: 'step0' });
      expect(cheap).toBeGreaterThanOrEqual(1);
      expect(cheap).toBeLessThanOrEqual(30);
    } finally {
      await endpoint.close();
    }
  });

  test('a running pipeline: busy, queued and input-queue gauges equal the live figures', async () => {
    const endpoint = await metricsEndpoint();
    const gate = deferred();
    const p = new Pipeline([[async (n: number) => (await gate.promise, n), 2]], {
      highWaterMark: 4,
      reporters: [openTelemetryReporter({ meter: endpoint.meter, attributes: { app: 'test' } })],
    });
    try {
      p.start();
      for (const n of range(40)) p.put(n);
      await delay(20);
      const body = await endpoint.scrape();
      const [step] = p.stats();
      expect(step.busy).toBe(2);
      expect(sample(body, 'paipa_step_busy', { paipa_step: step.name, app: 'test' })).toBe(2);
      expect(sample(body, 'paipa_step_queued', { paipa_step: step.name })).toBe(step.queued);
      expect(sample(body, 'paipa_pipeline_input_queued', { app: 'test' })).toBe(p.inputQueued);
      expect(p.inputQueued).toBeGreaterThan(0);
      expect(p.inputQueued + step.queued + step.in).toBe(40);
    } finally {
      gate.resolve();
      await watchdog(p.stop(), 2000, 'stop()');
      await endpoint.close();
    }
  });

  test('counters keep a finished run and add the next one of the same reporter', async () => {
    const endpoint = await metricsEndpoint();
    try {
      const reporter = openTelemetryReporter({ meter: endpoint.meter });
      for (const n of [5, 7]) {
        const p = new Pipeline(
          [
            function double(x: number) {
              return x * 2;
            },
          ],
          { reporters: [reporter] },
        );
        p.putAll(range(n));
        await p.run();
      }
      const body = await endpoint.scrape();
      expect(sample(body, 'paipa_step_items_received_total', { paipa_step: 'double' })).toBe(12);
    } finally {
      await endpoint.close();
    }
  });

  test('a missing meter or an unknown option is a TypeError naming it', () => {
    expect(() => openTelemetryReporter({} as never)).toThrow(/options\.meter/);
    expect(() => openTelemetryReporter({ meter: {} as never })).toThrow(TypeError);
    expect(() =>
      openTelemetryReporter({ meter: new MeterProvider().getMeter('x'), bogus: 1 } as never),
    ).toThrow(/bogus/);
  });
});
