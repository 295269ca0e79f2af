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
