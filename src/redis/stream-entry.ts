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

/** An entry as node-redis returns it; `message` is null for an entry deleted while pending. */
export type RawMessage = { id: string; message: Record<string, string> | null };

/** The messages of the one stream an XREADGROUP asked for (none on a timeout). */
export function firstStream(reply: unknown): RawMessage[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  return (reply[0] as { messages: RawMessage[] }).messages;
}

/** What the dead-letter stream keeps of an entry: enough to inspect and replay it. */
export function deadLetterFields(entry: RedisStreamEntry, reason: unknown): Record<string, string> {
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
