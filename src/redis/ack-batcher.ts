import type { RedisConnection } from './redis-connection';

/** At most this many ids per XACK. */
const MAX_IDS = 1000;

/**
 * Acknowledges entries of one stream and group. Coalesced: the ids given in one event-loop turn
 * go out as one XACK (at most 1,000 ids each), so acknowledging costs a round trip per batch
 * instead of per entry. Each `add()` returns the promise of the XACK that carries its id, which
 * the pipeline waits for before its run settles; an XACK lost with a dropped connection is sent
 * again once it is back (acknowledging twice is harmless).
 */
export class AckBatcher {
  #ids: string[] = [];
  #batch: Promise<void> | null = null;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly stream: string,
    private readonly group: string,
    private readonly coalesce: boolean,
    private readonly onAcked: (count: number) => void,
  ) {}

  add(id: string): Promise<void> {
    if (!this.coalesce) return this.#send([id]);
    this.#ids.push(id);
    if (this.#ids.length >= MAX_IDS) return this.#sendBatch();
    return (this.#batch ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.#sendBatch(),
    ));
  }

  /** Sends what is waiting and resolves once every XACK given so far was answered. */
  async flush(): Promise<void> {
    if (this.#ids.length > 0) void this.#sendBatch().catch(() => {});
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #sendBatch(): Promise<void> {
    const ids = this.#ids;
    this.#ids = [];
    this.#batch = null;
    return ids.length === 0 ? Promise.resolve() : this.#send(ids);
  }

  #send(ids: string[]): Promise<void> {
    const connection = this.connection;
    const sent = connection
      .retrying(() => connection.client.xAck(this.stream, this.group, ids))
      .then(() => this.onAcked(ids.length))
      .finally(() => this.#inFlight.delete(sent));
    this.#inFlight.add(sent);
    return sent;
  }
}
