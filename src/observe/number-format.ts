/**
 * Number formatting for reports, progress and diagrams. The Intl formatters are made on first
 * use: creating them costs milliseconds, which every `require('paipa')` would otherwise pay.
 */
let whole: Intl.NumberFormat | undefined;
let decimal: Intl.NumberFormat | undefined;

/** `12000` -> `12,000` (rounded). */
export function formatWhole(value: number): string {
  whole ??= new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  return whole.format(value);
}

/** `1234.567` -> `1,234.57`. */
export function formatDecimal(value: number): string {
  decimal ??= new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  return decimal.format(value);
}
