// paipa/otel: OpenTelemetry metrics for worker pipelines. Loaded only by `import 'paipa/otel'`;
// the core never imports it, and it needs @opentelemetry/api only for its types.
export { openTelemetryReporter } from './open-telemetry-reporter';
export type { OpenTelemetryReporterOptions } from './open-telemetry-reporter';
