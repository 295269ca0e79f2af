import { hostname } from 'node:os';
import { SOURCE_ACK, SOURCE_END } from '../delivery/tracked';
import { describe, invalidArg, PaipaError } from '../errors/errors';
import { AckBatcher } from './ack-batcher';
import { GroupReader, type GroupReaderOptions } from './group-reader';
import { DEFAULT_RECONNECT_LIMIT_MS, RedisConnection, type RedisTarget } from './redis-connection';
import { checkName, checkTarget, intOption } from './redis-options';
import type { RedisStreamEntry } from './stream-entry';

export type { RedisStreamEntry } from './stream-entry';

export interface RedisStreamSourceOptions extends RedisTarget {
  stream: string;
  group: string;
  /** This consumer's name in the group (default `hostname-pid`): keep it across restarts. */
  consumer?: string;
  /** Entries per read (default 100). */
  count?: number;
  /** How long one read waits for new entries, in ms (default 2000). */
  blockMs?: number;
  /** Entries idle this long in another consumer's pending list are claimed (default 60000). */
  claimIdleMs?: number;
  /** Ms between sweeps for entries to claim (default: a quarter of `claimIdleMs`, 10 ms to 10 s). */
  claimEveryMs?: number;
  /** An entry delivered more often than this goes to the dead-letter stream (default 5). */
  maxDeliveries?: number;
  /** Where such entries go (default `${stream}:dead`). */
  deadLetterStream?: string;
  /**
   * End the source after this long with nothing to read or claim (default: never). With
   * several consumers, make it longer than `claimIdleMs` + `claimEveryMs`, so that the
   * entries of a consumer that died are claimed before the others end.
   */
  endWhenIdleMs?: number;
  /**
   * A redelivered entry (delivered before: its consumer crashed, or it was claimed) is handed
   * out alone: after the entries before it are done, with nothing read beside it until it is
   * done or this many ms passed (default 2000; 0: no isolation). A poison entry then takes
   * nothing down with it. Steps that hold items until more arrive (`chunk`) see the wait.
   */
  isolateRedeliveredMs?: number;
  /** Coalesce acknowledgements into one XACK per event-loop turn (default true). */
  coalesceAcks?: boolean;
  /** How long a lost connection is retried before the run fails (default 30000 ms). */
  reconnectLimitMs?: number;
}

/** Counters of one source, for logs and tests. */
export interface RedisStreamSourceStats {
  /** Entries yielded to the pipeline, redeliveries included. */
  yielded: number;
  /** Of those, entries read again after a restart or claimed from another consumer. */
  redelivered: number;
  /** Entries taken over from other consumers (XAUTOCLAIM). */
  claimed: number;
  /** Entries acknowledged (XACK sent and answered). */
  acked: number;
  /** Entries written to the dead-letter stream (too many deliveries, or `deadLetter()`). */
  deadLettered: number;
  /** Entries held by this consumer now: read, not yet acknowledged. */
  held: number;
}

interface Held {
  entry: RedisStreamEntry;
  /** Handed to the pipeline (not only read into the buffer). */
  out: boolean;
}

/**
 * A Redis Streams consumer-group reader to give to `putIterable()`. It implements the
 * acknowledgement protocol (`SOURCE_ACK`): an entry is XACKed once the pipeline is done with
 * it and everything derived from it, and never when the run fails first, so it stays pending
 * and is delivered again (to this consumer on restart, or claimed by another after
 * `claimIdleMs`). At least once; not exactly once; no order across consumers.
 *
 * Reads happen only when the pipeline pulls (it has room), so the entries this consumer holds
 * are bounded by the pipeline's bound plus one read (`count`).
 */
export class RedisStreamSource implements AsyncIterable<RedisStreamEntry> {
  readonly #options: Required<
    Omit<RedisStreamSourceOptions, 'url' | 'client' | 'endWhenIdleMs'>
  > & { endWhenIdleMs: number | undefined };
  readonly #target: RedisTarget;
  #reader: GroupReader | null = null;
  #opening: Promise<void> | null = null;

  /** Read and not yet acknowledged, by id: the buffer and what the pipeline holds. */
  readonly #held = new Map<string, Held>();
  #buffer: RedisStreamEntry[] = [];
  #inPipeline = 0;
  /** The redelivered entry in the pipeline alone (see isolateRedeliveredMs), if any. */
  #isolated: string | null = null;
  /** When the current hold ends: waiting to hand a redelivered entry out alone, or it being out alone. */
  #holdUntil = 0;
  /** The redelivered entry waiting for the pipeline to empty before it goes out alone. */
  #waitingFor: string | null = null;
  #wake: (() => void) | null = null;

  #acks: AckBatcher | null = null;
  #connections: RedisConnection[] = [];
  #renewTimer: NodeJS.Timeout | null = null;
  #iterated = false;
  /** close(): no more reads; what was read is still handed out. */
  #closing = false;
  /** Nothing more is handed out. */
  #closed = false;
  #ended: Promise<void> | null = null;
  #endResolve: (() => void) | null = null;
  readonly #stats: RedisStreamSourceStats = {
    yielded: 0,
    redelivered: 0,
    claimed: 0,
    acked: 0,
    deadLettered: 0,
    held: 0,
  };

  constructor(options: RedisStreamSourceOptions) {
    if (options === null || typeof options !== 'object') {
      throw invalidArg(
        `Expected redisStreamSource() options to be an object, got ${describe(options)}`,
      );
    }
    this.#target = checkTarget('redisStreamSource', options);
    checkName('redisStreamSource', 'stream', options.stream);
    checkName('redisStreamSource', 'group', options.group);
    if (options.consumer !== undefined)
      checkName('redisStreamSource', 'consumer', options.consumer);
    if (options.deadLetterStream !== undefined) {
      checkName('redisStreamSource', 'deadLetterStream', options.deadLetterStream);
    }
    const opt = (name: string, value: unknown, fallback: number, min: number) =>
      intOption('redisStreamSource', name, value, fallback, min);
    const claimIdleMs = opt('claimIdleMs', options.claimIdleMs, 60_000, 1);
    this.#options = {
      stream: options.stream,
      group: options.group,
      consumer: options.consumer ?? `${hostname()}-${process.pid}`,
      count: opt('count', options.count, 100, 1),
      blockMs: opt('blockMs', options.blockMs, 2000, 1),
      claimIdleMs,
      claimEveryMs: opt(
        'claimEveryMs',
        options.claimEveryMs,
        Math.min(10_000, Math.max(10, Math.floor(claimIdleMs / 4))),
        1,
      ),
      maxDeliveries: opt('maxDeliveries', options.maxDeliveries, 5, 1),
      deadLetterStream: options.deadLetterStream ?? `${options.stream}:dead`,
      endWhenIdleMs:
        options.endWhenIdleMs === undefined
          ? undefined
          : opt('endWhenIdleMs', options.endWhenIdleMs, 0, 1),
      isolateRedeliveredMs: opt('isolateRedeliveredMs', options.isolateRedeliveredMs, 2000, 0),
      coalesceAcks: options.coalesceAcks ?? true,
      reconnectLimitMs: opt(
        'reconnectLimitMs',
        options.reconnectLimitMs,
        DEFAULT_RECONNECT_LIMIT_MS,
        1,
      ),
    };
    if (typeof this.#options.coalesceAcks !== 'boolean') {
      throw invalidArg(
        `Expected redisStreamSource() \`coalesceAcks\` to be a boolean, got ${describe(options.coalesceAcks)}`,
      );
    }
  }

  /** This consumer's name in the group. */
  get consumer(): string {
    return this.#options.consumer;
  }

  get stats(): RedisStreamSourceStats {
    return { ...this.#stats, held: this.#held.size };
  }

  [Symbol.asyncIterator](): AsyncIterator<RedisStreamEntry> {
    if (this.#iterated) {
      throw new PaipaError(
        'ERR_PAIPA_STATE',
        'A redisStreamSource can be iterated once; make a new one for another run',
      );
    }
    this.#iterated = true;
    return {
      next: () => this.#next(),
      // A pipeline that tears down calls return(): no more reads; the end hook closes.
      return: () => {
        this.#stop();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /**
   * Stops reading: the entries already read are still handed out, the pipeline drains, the
   * acknowledgements are sent, the connections close and the run resolves. Resolves once the
   * connections are closed.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#unblock();
    if (!this.#iterated) return this.#shutdown();
    this.#ended ??= new Promise((resolve) => (this.#endResolve = resolve));
    return this.#ended;
  }

  /**
   * Writes entries to the dead-letter stream (id, fields, deliveries and the reason), for
   * `onItemError`, whose fourth argument holds the entries a failed item derives from:
   * `onItemError: (err, item, step, inputs) => source.deadLetter(inputs, err)`. Takes an
   * entry, its id, or an array of them; each must be held by this source (read, not yet
   * acknowledged). The entries are acknowledged as usual once the pipeline is done with them
   * (a dead letter is handled), which is after the returned promise settles.
   */
  async deadLetter(
    // `readonly unknown[]`: onItemError's `inputs` as they come; each is checked here.
    entries: RedisStreamEntry | string | readonly unknown[] | undefined,
    reason?: unknown,
  ): Promise<void> {
    const list = Array.isArray(entries) ? entries : [entries];
    const held = list.map((e) => {
      const id = typeof e === 'string' ? e : (e as RedisStreamEntry | undefined)?.id;
      const found = typeof id === 'string' ? this.#held.get(id) : undefined;
      if (found === undefined) {
        throw invalidArg(
          `deadLetter(): ${describe(e)} is not an entry this source holds (read and not yet acknowledged)`,
        );
      }
      return found.entry;
    });
    if (held.length > 0) await this.#reader!.deadLetter(held, reason);
  }

  /** The pipeline is done with an entry (SOURCE_ACK): XACK, coalesced. */
  [SOURCE_ACK](entry: RedisStreamEntry): Promise<void> {
    const held = this.#held.get(entry.id);
    if (held !== undefined) {
      this.#held.delete(entry.id);
      if (held.out) this.#inPipeline--;
    }
    if (this.#isolated === entry.id) this.#isolated = null;
    this.#poke();
    return this.#acks!.add(entry.id);
  }

  /** The run has ended (SOURCE_END): send the acks it gave, close the connections. */
  async [SOURCE_END](): Promise<void> {
    this.#stop();
    await this.#shutdown();
  }

  /** Nothing more is handed out (the run tore down, or ended). */
  #stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unblock();
  }

  #unblock(): void {
    this.#poke();
    this.#reader?.stop();
  }

  async #shutdown(): Promise<void> {
    if (this.#renewTimer !== null) clearInterval(this.#renewTimer);
    this.#renewTimer = null;
    try {
      await this.#opening?.catch(() => {});
      await this.#acks?.flush();
    } finally {
      await Promise.all(this.#connections.map((c) => c.close()));
      this.#endResolve?.();
      this.#ended ??= Promise.resolve();
    }
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #open(): Promise<void> {
    return (this.#opening ??= (async () => {
      const options = this.#options;
      const commands = new RedisConnection(this.#target, options.reconnectLimitMs);
      // A blocking read must not time out before the server answers it, or the entries it
      // delivered would sit in this consumer's pending list unseen until the next restart.
      const blocking = new RedisConnection(
        this.#target,
        options.reconnectLimitMs,
        options.blockMs + 30_000,
      );
      this.#connections = [commands, blocking];
      this.#acks = new AckBatcher(
        commands,
        options.stream,
        options.group,
        options.coalesceAcks,
        (n) => {
          this.#stats.acked += n;
        },
      );
      this.#reader = new GroupReader(options as GroupReaderOptions, commands, blocking, {
        holds: (id) => this.#held.has(id),
        ackDeleted: (id) => void this.#acks!.add(id),
        claimed: (n) => (this.#stats.claimed += n),
        deadLettered: (n) => (this.#stats.deadLettered += n),
      });
      await this.#reader.open();
      this.#startRenewing();
    })());
  }

  /**
   * Entries this consumer holds stay its own: their idle time is reset well within
   * `claimIdleMs`, so a slow item or a partial batch is never claimed by another consumer
   * while this one is alive.
   */
  #startRenewing(): void {
    const every = Math.max(5, Math.floor(this.#options.claimIdleMs / 3));
    const timer = setInterval(() => {
      if (this.#held.size > 0 && !this.#closed) this.#reader!.renew([...this.#held.keys()]);
    }, every);
    timer.unref();
    this.#renewTimer = timer;
  }

  async #next(): Promise<IteratorResult<RedisStreamEntry>> {
    await this.#open();
    for (;;) {
      if (this.#closed) return { done: true, value: undefined };
      const entry = this.#take();
      if (entry !== undefined) {
        this.#stats.yielded++;
        return { done: false, value: entry };
      }
      if (this.#buffer.length > 0 || this.#isolated !== null) {
        await this.#waitForAck();
        continue;
      }
      if (this.#closing) return { done: true, value: undefined };
      let entries: RedisStreamEntry[] | null;
      try {
        entries = await this.#reader!.read();
      } catch (err) {
        if (this.#closed || this.#closing) continue;
        throw err;
      }
      if (entries === null) {
        if (this.#reader!.idleEnough()) return { done: true, value: undefined };
        continue;
      }
      for (const e of entries) {
        this.#held.set(e.id, { entry: e, out: false });
        this.#buffer.push(e);
      }
    }
  }

  /** The next entry to hand out now, or undefined (empty buffer, or isolation holds it back). */
  #take(): RedisStreamEntry | undefined {
    const now = Date.now();
    const isolateMs = this.#options.isolateRedeliveredMs;
    if (this.#isolated !== null) {
      if (now < this.#holdUntil) return undefined;
      this.#isolated = null; // held too long: the flow goes on (a step that waits for more)
    }
    const entry = this.#buffer[0];
    if (entry === undefined) return undefined;
    if (isolateMs > 0 && entry.deliveries > 1) {
      // Alone: once everything handed out before it is done, and nothing beside it meanwhile.
      if (this.#inPipeline > 0) {
        if (this.#waitingFor !== entry.id) {
          this.#waitingFor = entry.id;
          this.#holdUntil = now + isolateMs;
        }
        if (now < this.#holdUntil) return undefined;
      }
      this.#waitingFor = null;
      this.#isolated = entry.id;
      this.#holdUntil = now + isolateMs;
    }
    this.#buffer.shift();
    this.#held.get(entry.id)!.out = true;
    this.#inPipeline++;
    if (entry.deliveries > 1) this.#stats.redelivered++;
    return entry;
  }

  /** Waits for an acknowledgement, the end of a hold (see #take), or close(). */
  #waitForAck(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#poke(), Math.max(1, this.#holdUntil - Date.now()));
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * A Redis Streams consumer-group source for `putIterable()`: see `RedisStreamSource`.
 *
 * @example
 * const source = redisStreamSource({ url: 'redis://127.0.0.1:6379', stream: 'orders', group: 'etl' });
 * process.once('SIGTERM', () => source.close());
 * await new Pipeline([parse, [enrich, 8], store]).putIterable(source).run();
 */
export function redisStreamSource(options: RedisStreamSourceOptions): RedisStreamSource {
  return new RedisStreamSource(options);
}
