import { hostname } from 'node:os';
import { SOURCE_ACK, SOURCE_END } from '../delivery/tracked';
import { describe, invalidArg, PaipaError } from '../errors/errors';
import { checkInteger } from '../util/validate';
import { AckBatcher } from './ack-batcher';
import { DEFAULT_RECONNECT_LIMIT_MS, RedisConnection, type RedisTarget } from './redis-connection';
import { checkTarget, checkName } from './redis-options';

/** One entry of a Redis stream as the source yields it. */
export interface RedisStreamEntry {
  /** The entry's id (`1700000000000-0`). */
  readonly id: string;
  /** The stream it was read from. */
  readonly stream: string;
  readonly fields: Record<string, string>;
  /** How many times the group has delivered it, this delivery included (1: the first). */
  readonly deliveries: number;
}

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

type Phase = 'history' | 'new';

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
  /** Commands (acks, claims, dead letters, renewals). */
  #commands: RedisConnection | null = null;
  /** Blocking reads, on a connection of their own. */
  #reader: RedisConnection | null = null;
  #readerId = 0;
  #opening: Promise<void> | null = null;

  /** Read and not yet acknowledged, by id: the buffer and what the pipeline holds. */
  readonly #held = new Map<string, Held>();
  #buffer: RedisStreamEntry[] = [];
  #inPipeline = 0;
  #phase: Phase = 'history';
  #historyCursor = '0';
  #claimCursor = '0-0';
  #nextSweepAt = 0;
  #lastEntryAt = Date.now();
  /** The redelivered entry in the pipeline alone (see isolateRedeliveredMs), if any. */
  #isolated: string | null = null;
  /** Until when the current hold (waiting to hand a redelivered entry out alone, or it being out alone) lasts. */
  #holdUntil = 0;
  /** The redelivered entry waiting for the pipeline to empty before it goes out alone. */
  #waitingFor: string | null = null;
  #wake: (() => void) | null = null;
  #reading = false;

  #acks: AckBatcher | null = null;
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
    if (held.length === 0) return;
    const commands = this.#commands!;
    await commands.retrying(async () => {
      const multi = commands.client.multi();
      for (const entry of held) {
        multi.xAdd(this.#options.deadLetterStream, '*', deadLetterFields(entry, reason));
      }
      await multi.exec();
    });
    this.#stats.deadLettered += held.length;
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
    // A read blocked on the server returns at once, as if it had timed out: nothing is
    // delivered to this consumer that the pipeline would never see.
    if (this.#reading && this.#readerId !== 0 && this.#commands?.client.isReady) {
      this.#commands.client
        .sendCommand(['CLIENT', 'UNBLOCK', String(this.#readerId), 'TIMEOUT'])
        .catch(() => {});
    }
  }

  async #shutdown(): Promise<void> {
    if (this.#renewTimer !== null) clearInterval(this.#renewTimer);
    this.#renewTimer = null;
    try {
      await this.#opening?.catch(() => {});
      await this.#acks?.flush();
    } finally {
      await Promise.all([this.#reader?.close(), this.#commands?.close()]);
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
      const { reconnectLimitMs, stream, group } = this.#options;
      const commands = new RedisConnection(this.#target, reconnectLimitMs);
      // A blocking read must not time out before the server answers it, or the entries it
      // delivered would sit in this consumer's pending list unseen until the next restart.
      const reader = new RedisConnection(
        this.#target,
        reconnectLimitMs,
        this.#options.blockMs + 30_000,
      );
      this.#commands = commands;
      this.#reader = reader;
      // After a lost connection, read this consumer's pending list again: a read whose reply
      // was lost left entries delivered here that the pipeline never saw.
      reader.onReconnect = () => {
        this.#phase = 'history';
        this.#historyCursor = '0';
        void reader.client.clientId().then(
          (id) => (this.#readerId = id),
          () => {},
        );
      };
      await Promise.all([commands.connect(), reader.connect()]);
      this.#readerId = await reader.client.clientId();
      try {
        await commands.client.xGroupCreate(stream, group, '0', { MKSTREAM: true });
      } catch (err) {
        if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
      }
      this.#acks = new AckBatcher(commands, stream, group, this.#options.coalesceAcks, (n) => {
        this.#stats.acked += n;
      });
      this.#startRenewing();
    })());
  }

  /**
   * Entries this consumer holds stay its own: their idle time is reset (XCLAIM to itself,
   * JUSTID: the delivery count is not raised) well within `claimIdleMs`, so a slow item or a
   * partial batch is never claimed by another consumer while this one is alive.
   */
  #startRenewing(): void {
    const every = Math.max(5, Math.floor(this.#options.claimIdleMs / 3));
    const timer = setInterval(() => {
      if (this.#held.size === 0 || this.#closed) return;
      const ids = [...this.#held.keys()];
      const { stream, group, consumer } = this.#options;
      const commands = this.#commands!;
      for (let i = 0; i < ids.length; i += 1000) {
        commands.client
          .xClaimJustId(stream, group, consumer, 0, ids.slice(i, i + 1000))
          .catch(() => {}); // the next renewal tries again; a claim by another is at least once
      }
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
      if (await this.#fill()) continue;
      if (this.#idleEnough()) return { done: true, value: undefined };
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

  /**
   * Reads into the empty buffer: first this consumer's own pending entries (after a restart
   * or a lost connection), then, when a sweep is due, entries idle in other consumers' pending
   * lists, then new entries. Redelivered entries are read one at a time (see isolation).
   * Returns true when it got something to hand out.
   */
  async #fill(): Promise<boolean> {
    const reader = this.#reader!;
    try {
      if (this.#phase === 'history') {
        if (await this.#readHistory()) return true;
        this.#phase = 'new';
      }
      if (Date.now() >= this.#nextSweepAt) {
        if (await this.#claim()) return true;
      }
      return await this.#readNew();
    } catch (err) {
      if (this.#closed || this.#closing) return false;
      const commands = this.#commands!;
      const reconnecting = [reader, commands].filter((c) => !c.client.isReady);
      if (reconnecting.length === 0) throw err;
      // A connection dropped under the command: wait for it (or for its limit) and go on.
      await Promise.all(reconnecting.map((c) => c.whenReady()));
      return false;
    }
  }

  async #readHistory(): Promise<boolean> {
    const { stream, group, consumer } = this.#options;
    const reply = await this.#reader!.client.xReadGroup(
      group,
      consumer,
      { key: stream, id: this.#historyCursor },
      { COUNT: 1 },
    );
    const messages = firstStream(reply);
    if (messages.length === 0) return false;
    for (const m of messages) this.#historyCursor = m.id;
    await this.#admit(
      messages.filter((m) => !this.#held.has(m.id)),
      true,
    );
    return true;
  }

  async #claim(): Promise<boolean> {
    const { stream, group, consumer, claimIdleMs, claimEveryMs } = this.#options;
    const commands = this.#commands!;
    const reply = await commands.client.xAutoClaim(
      stream,
      group,
      consumer,
      claimIdleMs,
      this.#claimCursor,
      { COUNT: 1 },
    );
    this.#claimCursor = String(reply.nextId);
    if (this.#claimCursor === '0-0') this.#nextSweepAt = Date.now() + claimEveryMs;
    const messages = (reply.messages as (RawMessage | null)[]).filter(
      (m): m is RawMessage => m !== null && !this.#held.has(m.id),
    );
    this.#stats.claimed += messages.length;
    if (messages.length === 0) return this.#claimCursor !== '0-0';
    await this.#admit(messages, true);
    return true;
  }

  async #readNew(): Promise<boolean> {
    const { stream, group, consumer, count, blockMs } = this.#options;
    const now = Date.now();
    let block = Math.max(1, Math.min(blockMs, this.#nextSweepAt - now));
    const idleEnd = this.#options.endWhenIdleMs;
    if (idleEnd !== undefined)
      block = Math.max(1, Math.min(block, this.#lastEntryAt + idleEnd - now));
    this.#reading = true;
    let reply;
    try {
      reply = await this.#reader!.client.xReadGroup(
        group,
        consumer,
        { key: stream, id: '>' },
        { COUNT: count, BLOCK: block },
      );
    } finally {
      this.#reading = false;
    }
    const messages = firstStream(reply);
    if (messages.length === 0) return false;
    await this.#admit(messages, false);
    return true;
  }

  /**
   * Puts entries read into the buffer, with their delivery counts; an entry delivered more
   * than `maxDeliveries` times goes to the dead-letter stream and is acknowledged instead, in
   * one transaction, so a crash leaves it either pending or dead-lettered, never lost.
   * Returns how many were buffered.
   */
  async #admit(messages: RawMessage[], redelivered: boolean): Promise<number> {
    if (messages.length === 0) return 0;
    this.#lastEntryAt = Date.now();
    const { stream, group, maxDeliveries, deadLetterStream } = this.#options;
    const deliveries = redelivered ? await this.#deliveryCounts(messages) : null;
    const dead: RedisStreamEntry[] = [];
    let buffered = 0;
    for (const m of messages) {
      if (m.message === null || m.message === undefined) {
        // Deleted from the stream (trimmed) while pending: nothing left to process.
        void this.#acks!.add(m.id);
        continue;
      }
      const entry: RedisStreamEntry = {
        id: m.id,
        stream,
        fields: { ...m.message },
        deliveries: deliveries?.get(m.id) ?? 1,
      };
      if (entry.deliveries > maxDeliveries) {
        dead.push(entry);
        continue;
      }
      this.#held.set(entry.id, { entry, out: false });
      this.#buffer.push(entry);
      buffered++;
    }
    if (dead.length > 0) {
      const commands = this.#commands!;
      await commands.retrying(async () => {
        const multi = commands.client.multi();
        for (const entry of dead) {
          multi.xAdd(deadLetterStream, '*', deadLetterFields(entry, 'too many deliveries'));
        }
        multi.xAck(
          stream,
          group,
          dead.map((e) => e.id),
        );
        await multi.exec();
      });
      this.#stats.deadLettered += dead.length;
    }
    return buffered;
  }

  async #deliveryCounts(messages: RawMessage[]): Promise<Map<string, number>> {
    const { stream, group, consumer } = this.#options;
    const first = messages[0].id;
    const last = messages[messages.length - 1].id;
    const pending = await this.#commands!.client.xPendingRange(
      stream,
      group,
      first,
      last,
      messages.length,
      { consumer },
    );
    return new Map(pending.map((p) => [String(p.id), Number(p.deliveriesCounter)]));
  }

  /** endWhenIdleMs: nothing read or claimed for that long, and a sweep found nothing. */
  #idleEnough(): boolean {
    const idleEnd = this.#options.endWhenIdleMs;
    // Entries still held do not count: a step may hold them until the input ends (chunk).
    if (idleEnd === undefined) return false;
    if (Date.now() - this.#lastEntryAt < idleEnd) return false;
    if (this.#claimCursor !== '0-0' || this.#phase === 'history') return false;
    // Only once a sweep that ran after the idle time began found nothing to claim: if the
    // last one is older, one runs now.
    if (this.#nextSweepAt - this.#options.claimEveryMs >= this.#lastEntryAt) return true;
    this.#nextSweepAt = 0;
    return false;
  }
}

type RawMessage = { id: string; message: Record<string, string> | null };

function firstStream(reply: unknown): RawMessage[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  return (reply[0] as { messages: RawMessage[] }).messages;
}

function deadLetterFields(entry: RedisStreamEntry, reason: unknown): Record<string, string> {
  const why =
    reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason ?? 'dead letter');
  return {
    id: entry.id,
    stream: entry.stream,
    deliveries: String(entry.deliveries),
    fields: JSON.stringify(entry.fields),
    reason: why,
  };
}

function opt(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  return checkInteger(`redisStreamSource() ${name}`, value, min);
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
