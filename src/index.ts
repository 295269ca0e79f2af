export { Pipeline } from './pipeline';
export type { PipelineOptions } from './pipeline';
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
