export { Pipeline } from './pipeline';
export type { PipelineOptions } from './pipeline';
export type { PipelineBuilder } from './pipeline-builder';
export type {
  NoStepListSignature,
  NotAStep,
  PipelineConstructor,
  StepClassSpec,
  StepInput,
  StepKind,
  StepMismatch,
  StepOptionsMismatch,
  StepOutput,
  StepSpec,
} from './chain-types';
export { Step } from './step';
export type { StepClass } from './step';
export { funcStep, iterStep, streamStep } from './step-kinds';
export type { FuncStep, IterStep, StreamStep, StreamFactory, StepDefinition } from './step-kinds';
export { AbortError, PaipaError, SkipEntry, errorOrigin } from './errors';
export type { ErrorOrigin, PaipaErrorCode } from './errors';
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
export { combinePipeline } from './combine-pipeline';
export { chunk, flatten, consume, identityStep } from './iter-tools';
export { PipelineRuntimeDebugger } from './runtime-debugger';
export { LoggingReporter, MemoryReporter } from './reporters';
export type { Reporter, Report, ReportRow } from './reporters';
export type { CombineOptions, GeneratorStep, GeneratorSteps } from './combine-pipeline';
export type { AnyIterable, ChunkStep, Chunked, FlatItem, Flattened } from './iter-tools';
export type { RuntimeDebuggerOptions } from './runtime-debugger';
export type { LoggingReporterOptions } from './reporters';

// time-based batching
export { timedChunk } from './timed-chunk';
export type { TimedChunkOptions } from './timed-chunk';
