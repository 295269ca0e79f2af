import type { RedisConnection } from './redis-connection';
import {
  deadLetterFields,
  firstStream,
  type RawMessage,
  type RedisStreamEntry,
} from './stream-entry';

export interface GroupReaderOptions {
  stream: string;
  group: string;
  consumer: string;
  count: number;
  blockMs: number;
  claimIdleMs: number;
  claimEveryMs: number;
  maxDeliveries: number;
  deadLetterStream: string;
  endWhenIdleMs: number | undefined;
}

/** What the reader needs to know of, and tell, the source that hands the entries out. */
export interface GroupReaderHost {
  /** The source holds this entry already (read and not acknowledged): not to be read twice. */
  holds(id: string): boolean;
  /** An entry deleted from the stream while pending: nothing to process, acknowledge it. */
  ackDeleted(id: string): void;
  claimed(count: number): void;
  deadLettered(count: number): void;
}

/**
 * Decides what this consumer reads next from its group, and reads it: first its own pending
 * entries (after a restart, or a connection lost with a reply on the way), then, when a sweep
 * is due, entries idle longer than `claimIdleMs` in other consumers' pending lists
 * (XAUTOCLAIM), then new entries (XREADGROUP `>`, blocking on a connection of its own).
 * Redelivered entries are read one at a time, so that the source can hand them out alone.
 * Entries come with their delivery counts; one delivered more than `maxDeliveries` times is
 * written to the dead-letter stream and acknowledged, in one transaction, instead.
 */
export class GroupReader {
  #phase: 'history' | 'new' = 'history';
  #historyCursor = '0';
  #claimCursor = '0-0';
  #nextSweepAt = 0;
  #lastEntryAt = Date.now();
  #readerId = 0;
  #reading = false;
  #stopped = false;

  constructor(
    private readonly options: GroupReaderOptions,
    /** Commands: claims, delivery counts, dead letters, renewals. */
    private readonly commands: RedisConnection,
    /** Blocking reads. */
    private readonly reader: RedisConnection,
    private readonly host: GroupReaderHost,
  ) {
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
  }

  /** Connects, and creates the group (from the stream's start, MKSTREAM) when it is missing. */
  async open(): Promise<void> {
    const { stream, group } = this.options;
    await Promise.all([this.commands.connect(), this.reader.connect()]);
    this.#readerId = await this.reader.client.clientId();
    try {
      await this.commands.client.xGroupCreate(stream, group, '0', { MKSTREAM: true });
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
  }

  /**
   * Reads the next entries to hand out. Resolves to null when there was nothing to read for
   * now (the read timed out, or was unblocked), else to the entries read (possibly none: all
   * dead-lettered or held already). A connection dropped under a command is waited for, and
   * resolves to null; past its reconnect limit, the read rejects with the connection's error.
   */
  async read(): Promise<RedisStreamEntry[] | null> {
    try {
      if (this.#phase === 'history') {
        const entries = this.#stopped ? null : await this.#readHistory();
        if (entries !== null) return entries;
        this.#phase = 'new';
      }
      if (!this.#stopped && Date.now() >= this.#nextSweepAt) {
        const claimed = await this.#claim();
        if (claimed !== null) return claimed;
      }
      return this.#stopped ? null : await this.#readNew();
    } catch (err) {
      const reconnecting = [this.reader, this.commands].filter((c) => !c.client.isReady);
      if (reconnecting.length === 0) throw err;
      await Promise.all(reconnecting.map((c) => c.whenReady()));
      return null;
    }
  }

  /**
   * No more reads: a read blocked on the server returns at once, as if it had timed out
   * (nothing is delivered), and `read()` sends none after it. The UNBLOCK travels on the other
   * connection and may reach the server before the read it is meant for, so it is sent again
   * until that read has returned.
   */
  stop(): void {
    this.#stopped = true;
    const unblock = () => {
      if (!this.#reading || this.#readerId === 0 || !this.commands.client.isReady) return;
      this.commands.client
        .sendCommand(['CLIENT', 'UNBLOCK', String(this.#readerId), 'TIMEOUT'])
        .catch(() => {});
      setTimeout(unblock, 20).unref();
    };
    unblock();
  }

  /**
   * endWhenIdleMs: nothing read or claimed for that long, and a sweep that ran after the idle
   * time began found nothing to claim (if the last one is older, one is due now).
   */
  idleEnough(): boolean {
    const idleEnd = this.options.endWhenIdleMs;
    if (idleEnd === undefined) return false;
    if (Date.now() - this.#lastEntryAt < idleEnd) return false;
    if (this.#claimCursor !== '0-0' || this.#phase === 'history') return false;
    if (this.#nextSweepAt - this.options.claimEveryMs >= this.#lastEntryAt) return true;
    this.#nextSweepAt = 0;
    return false;
  }

  /**
   * Keeps entries this consumer's own: resets their idle time (XCLAIM to itself, JUSTID: the
   * delivery count is not raised), so no other consumer claims them while this one is alive.
   */
  renew(ids: string[]): void {
    const { stream, group, consumer } = this.options;
    for (let i = 0; i < ids.length; i += 1000) {
      this.commands.client
        .xClaimJustId(stream, group, consumer, 0, ids.slice(i, i + 1000))
        .catch(() => {}); // the next renewal tries again; a claim by another is at least once
    }
  }

  /** Writes entries to the dead-letter stream (without acknowledging them). */
  async deadLetter(entries: readonly RedisStreamEntry[], reason: unknown): Promise<void> {
    const commands = this.commands;
    await commands.retrying(async () => {
      const multi = commands.client.multi();
      for (const entry of entries) {
        multi.xAdd(this.options.deadLetterStream, '*', deadLetterFields(entry, reason));
      }
      await multi.exec();
    });
    this.host.deadLettered(entries.length);
  }

  async #readHistory(): Promise<RedisStreamEntry[] | null> {
    const { stream, group, consumer } = this.options;
    const reply = await this.reader.client.xReadGroup(
      group,
      consumer,
      { key: stream, id: this.#historyCursor },
      { COUNT: 1 },
    );
    const messages = firstStream(reply);
    if (messages.length === 0) return null;
    for (const m of messages) this.#historyCursor = m.id;
    return this.#admit(
      messages.filter((m) => !this.host.holds(m.id)),
      true,
    );
  }

  /** One step of a sweep; null once a sweep is over with nothing found in its last step. */
  async #claim(): Promise<RedisStreamEntry[] | null> {
    const { stream, group, consumer, claimIdleMs, claimEveryMs } = this.options;
    const reply = await this.commands.client.xAutoClaim(
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
      (m): m is RawMessage => m !== null && !this.host.holds(m.id),
    );
    this.host.claimed(messages.length);
    if (messages.length > 0) return this.#admit(messages, true);
    return this.#claimCursor === '0-0' ? null : [];
  }

  async #readNew(): Promise<RedisStreamEntry[] | null> {
    const { stream, group, consumer, count, blockMs, endWhenIdleMs } = this.options;
    const now = Date.now();
    let block = Math.min(blockMs, this.#nextSweepAt - now);
    if (endWhenIdleMs !== undefined)
      block = Math.min(block, this.#lastEntryAt + endWhenIdleMs - now);
    this.#reading = true;
    let reply;
    try {
      reply = await this.reader.client.xReadGroup(
        group,
        consumer,
        { key: stream, id: '>' },
        { COUNT: count, BLOCK: Math.max(1, block) },
      );
    } finally {
      this.#reading = false;
    }
    const messages = firstStream(reply);
    return messages.length === 0 ? null : this.#admit(messages, false);
  }

  /** Entries with their delivery counts; those delivered too often go to the dead letters. */
  async #admit(messages: RawMessage[], redelivered: boolean): Promise<RedisStreamEntry[]> {
    if (messages.length === 0) return [];
    this.#lastEntryAt = Date.now();
    const { stream, group, maxDeliveries, deadLetterStream } = this.options;
    const deliveries = redelivered ? await this.#deliveryCounts(messages) : null;
    const dead: RedisStreamEntry[] = [];
    const entries: RedisStreamEntry[] = [];
    for (const m of messages) {
      if (m.message === null || m.message === undefined) {
        this.host.ackDeleted(m.id); // trimmed from the stream while pending
        continue;
      }
      const entry: RedisStreamEntry = {
        id: m.id,
        stream,
        fields: { ...m.message },
        deliveries: deliveries?.get(m.id) ?? 1,
      };
      (entry.deliveries > maxDeliveries ? dead : entries).push(entry);
    }
    if (dead.length > 0) {
      // In one transaction: a crash leaves an entry pending or dead-lettered, never lost.
      const commands = this.commands;
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
      this.host.deadLettered(dead.length);
    }
    return entries;
  }

  async #deliveryCounts(messages: RawMessage[]): Promise<Map<string, number>> {
    const { stream, group, consumer } = this.options;
    const pending = await this.commands.client.xPendingRange(
      stream,
      group,
      messages[0].id,
      messages[messages.length - 1].id,
      messages.length,
      { consumer },
    );
    return new Map(pending.map((p) => [String(p.id), Number(p.deliveriesCounter)]));
  }
}
