import type { Reporter } from '../observe/reporters';
import type { ItemErrorHandler, RetryDelay } from '../types';

/** Options of a `Pipeline`. Step-level options of the same name override these per step. */
export interface PipelineOptions {
  /** Bound of every step's stream buffers (default 16). */
  highWaterMark?: number;
  /** Emit outputs in input order in every step (default false). */
  ordered?: boolean;
  /** Extra attempts for an item whose processing throws (default 0). */
  maxRetries?: number;
  /** Wait before a retry in ms, or a function of the attempt number (default 0). */
  retryDelay?: RetryDelay;
  /** Aborting it tears the pipeline down and rejects with an `AbortError`. */
  signal?: AbortSignal;
  /** Dead-letter hook: receives items whose retries ran out; the pipeline goes on. */
  onItemError?: ItemErrorHandler;
  /** Receives each meta entry that reaches the end of the pipeline. */
  onMeta?: (value: unknown) => unknown;
  /** Called once with the error when the pipeline fails. */
  onFail?: (error: unknown) => void;
  /** Receive the per-step figures every `reportEvery` ms and once at the end. */
  reporters?: Reporter[];
  /** Interval of periodic reports and progress redraws, in ms (default 5000). */
  reportEvery?: number;
  /**
   * Live progress: `true` draws on stderr, a writable stream draws there (a bar on a TTY,
   * plain lines elsewhere). Redraws follow `reportEvery` (default 1000 ms for progress).
   */
  progress?: boolean | NodeJS.WritableStream;
  /** Items expected, for the progress bar (default: the number of items given to put/putAll). */
  total?: number;
  /**
   * An input is done: it and every output derived from it were handed on, or it was dropped
   * or dead-lettered. Called once per input, in completion order; `seq` is the input's
   * 0-based position among all items given. A throw fails the run. See "Delivery guarantees".
   */
  onAck?: (item: any, seq: number) => unknown;
  /** Every input with a seq <= `seq` is done: the safe point to resume after. A throw fails the run. */
  onCheckpoint?: (seq: number) => unknown;
  /** Ms between `onCheckpoint` calls (default 1000), plus one at the end of a successful run. */
  checkpointEvery?: number;
}
