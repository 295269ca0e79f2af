export { Pipeline } from './chain/typed-pipeline';
export type { PipelineOptions } from './pipeline/pipeline-options';
export type { PipelineBuilder } from './chain/pipeline-builder';
export type { NoStepListSignature, PipelineConstructor } from './chain/pipeline-constructor';
export type {
  NotAStep,
  StepClassSpec,
  StepInput,
  StepKind,
  StepMismatch,
  StepOptionsMismatch,
  StepOutput,
  StepSpec,
} from './chain/step-types';
export { Step } from './steps/step';
export type { StepClass } from './steps/step';
export { funcStep, iterStep, streamStep } from './steps/step-kinds';
export type {
  FuncStep,
  IterStep,
  StreamStep,
  StreamFactory,
  StepDefinition,
} from './steps/step-kinds';
export { workerStep } from './workers/worker-step';
export type { WorkerStep, WorkerStepOptions } from './workers/worker-step';
export { AbortError, PaipaError, SkipEntry, errorOrigin } from './errors/errors';
export { SOURCE_ACK, SOURCE_END } from './delivery/tracked';
export type { ErrorOrigin, PaipaErrorCode } from './errors/errors';
export type {
  ItemErrorHandler,
  IterStepFunction,
  RetryDelay,
  RunResult,
  StepContext,
  StepFunction,
  StepOptions,
  StepResult,
  StepStats,
} from './types';

// generator pipelines, batching helpers, debugger and reporters
export { combinePipeline } from './generators/combine-pipeline';
export { chunk, flatten, consume, identityStep } from './generators/iter-tools';
export { PipelineRuntimeDebugger } from './generators/runtime-debugger';
export { LoggingReporter, MemoryReporter } from './observe/reporters';
export type { LiveRun, Reporter, Report, ReportRow } from './observe/reporters';
export type { CombineOptions, GeneratorStep, GeneratorSteps } from './generators/combine-pipeline';
export type {
  AnyIterable,
  ChunkOf,
  ChunkStep,
  Chunked,
  FlatItem,
  FlattenOf,
  Flattened,
} from './generators/iter-tools';
export type { RuntimeDebuggerOptions } from './generators/runtime-debugger';
export type { LoggingReporterOptions } from './observe/reporters';

// time-based batching
export { timedChunk } from './steps/timed-chunk';
export type { TimedChunkOptions } from './steps/timed-chunk';
