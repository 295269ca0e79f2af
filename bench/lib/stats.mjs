// Summaries of repeated runs. Medians, not means: one descheduled run on a noisy machine must
// not move the figure.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median, range and the range relative to the median (the "spread" column). */
export function summarize(values) {
  if (values.length === 0) return null;
  const med = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: med, min, max, spread: med === 0 ? 0 : (max - min) / med, n: values.length };
}
