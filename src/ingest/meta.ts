/**
 * Meta entries travel in-band with the items, wrapped so no step mistakes one for an item.
 * Object-mode streams cannot carry `null`, so the wrapper also lets a meta value be anything.
 */
export class MetaEntry {
  constructor(readonly value: unknown) {}
}

export function isMeta(chunk: unknown): chunk is MetaEntry {
  return chunk instanceof MetaEntry;
}

/**
 * Marks a stream-step factory whose streams understand meta entries: the stage then writes
 * `MetaEntry` objects into the instance (in order with the items) instead of passing them
 * around it. Library steps that must react to meta entries (e.g. flush a partial batch) use it.
 */
export const ACCEPTS_META = Symbol('paipa.acceptsMeta');
