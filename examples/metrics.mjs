// Running as a service: a continuous pipeline with its figures as OpenTelemetry metrics, served
// to Prometheus at /metrics (`npm run example:metrics`; PORT=9464 by default, 0 for any port).
//
// Events arrive in a trickle (as from an HTTP endpoint or a queue); timedChunk groups them into
// batches that leave when full, when the input pauses, or at the latest after maxWait; a sink
// stores each batch. Prometheus scrapes the figures whenever it likes: they are read live.
// The example scrapes itself once at the end and checks the figures against p.stats().

import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Pipeline, timedChunk } from 'paipa';
import { openTelemetryReporter } from 'paipa/otel';

// The exporter's request handler on our own server: bound to 127.0.0.1, on the port we chose.
const exporter = new PrometheusExporter({ preventServerStart: true });
const provider = new MeterProvider({ readers: [exporter] });
const server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
await new Promise((resolve) =>
  server.listen(Number(process.env.PORT ?? 9464), '127.0.0.1', resolve),
);
const url = `http://127.0.0.1:${server.address().port}/metrics`;
console.log(`metrics at ${url}`);

function parse(event) {
  return { ...event, amount: Math.round(event.amount * 100) };
}

let stored = 0;
async function storeBatch(batch) {
  await sleep(5); // a bulk insert
  stored += batch.length;
}

const pipeline = new Pipeline(
  [parse, [timedChunk({ size: 50, timeout: 200, maxWait: 500 }), 1], [storeBatch, 2]],
  { reporters: [openTelemetryReporter({ meter: provider.getMeter('orders-service') })] },
);
pipeline.start();

// A trickle: 150 events, 50 a second, so batches leave at maxWait, not when full.
for (let id = 0; id < 150; id++) {
  pipeline.put({ id, amount: id / 7 });
  if (id % 5 === 4) await sleep(100);
}
const result = await pipeline.stop();

const body = await (await fetch(url)).text();
const value = (line) =>
  Number(
    body
      .split('\n')
      .find((l) => l.startsWith(line))
      ?.split(' ')
      .at(-1),
  );
const received = value('paipa_step_items_received_total{paipa_step="parse"');
const storedItems = value(
  'paipa_step_items_handled_total{paipa_step="storeBatch",paipa_outcome="stored"',
);
console.log(
  body
    .split('\n')
    .filter((l) => /^paipa_step_items/.test(l))
    .join('\n'),
);
console.log(`events stored:      ${stored}`);
console.log(`parse received:     ${received} (stats: ${result.steps[0].in})`);
console.log(`batches stored:     ${storedItems} (stats: ${result.steps[2].stored})`);
const match = received === result.steps[0].in && storedItems === result.steps[2].stored;
console.log(`metrics match stats: ${match ? 'yes' : 'no'}`);

await new Promise((resolve) => server.close(resolve));
await provider.shutdown();
if (!match) process.exitCode = 1;
