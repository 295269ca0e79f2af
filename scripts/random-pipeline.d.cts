/** Types of random-pipeline.cjs (random pipelines for the property test and the soak run). */
export type StepKind = 'sync' | 'async' | 'class' | 'iter' | 'stream' | 'worker';
export type Op = 'id' | 'scale' | 'filter' | 'dup';
export type Mode = 'run' | 'iterate' | 'stream';
export type Input = 'array' | 'sync' | 'async';

export interface StepSpec {
  kind: StepKind;
  concurrency: number;
  highWaterMark: number | undefined;
  ordered: boolean;
  op: Op;
  /** Function/class steps: keyBy of the value modulo this many keys. */
  keyBy?: number;
  /** Function/class steps: a timeout long enough never to fire (the timed call path). */
  timeout?: boolean;
  /** Class steps: restart a failing instance (a budget that never runs out). */
  restart?: boolean;
}

/** Fails step `step % steps.length` on the value `pick % (values reaching it)`, `times` times. */
export interface FaultSpec {
  step: number;
  pick: number;
  times: number;
  /** Which way to fail, where a step has two (class: throw or reject; stream: cb or destroy). */
  how: number;
}

export interface Spec {
  steps: StepSpec[];
  items: number;
  input: Input;
  mode: Mode;
  highWaterMark: number;
  ordered: boolean;
  maxRetries: number;
  deadLetter: boolean;
  faults: FaultSpec[];
  sourceFault: { at: number } | null;
  abortAt: number | null;
  breakAfter: number | null;
  slowConsumer: boolean;
  /** onAck on (run() and for await, no foreign stream step); absent in older specs: off. */
  acks?: boolean;
}

export interface Env {
  /** A point where an async step yields; undefined continues synchronously. */
  pause(label: string): Promise<unknown> | undefined;
  /** Waits for the run (fast-check's scheduler releases the paused steps meanwhile). */
  waitFor<T>(promise: Promise<T>): Promise<T>;
  timeoutMs: number;
  /** Worker threads still running; checked (must be 0) when the run settles. */
  threadsRunning?: () => number;
}

export interface RunStats {
  hung: boolean;
  error?: unknown;
  knownBugHits?: string[];
  /** Outcomes accepted under a documented limit (e.g. two errors in the same event-loop turn). */
  tolerated?: string[];
  afterError?: number;
  outputs?: number;
  expected?: number;
  failed?: boolean;
  fired?: number;
  aborted?: boolean;
  broke?: boolean;
}

export const STEP_KINDS: StepKind[];
export const WORKER_KIND: 'worker';
export const OPS: Op[];
export const MODES: Mode[];
export const INPUTS: Input[];
export const KNOWN_BUGS: Record<string, boolean>;
export function applyOp(op: Op, x: number): number[];
export function normalizeStep(step: StepSpec): StepSpec;
export function model(spec: Spec): {
  expected: number[];
  keepsOrder: boolean;
  deadLetters: Set<string>;
};
export function runSpec(
  spec: Spec,
  lib: Record<string, any>,
  env: Env,
): Promise<{ problems: string[]; stats: RunStats }>;
export function prng(seed: number): {
  next(): number;
  int(min: number, max: number): number;
  pick<T>(list: readonly T[]): T;
  chance(p: number): boolean;
};
export function randomSpec(rand: ReturnType<typeof prng>, maxItems?: number): Spec;
