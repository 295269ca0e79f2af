// Number formatting shared by the markdown report and the chart, so both show the same figures.

export const ms = (v) =>
  typeof v !== 'number' || Number.isNaN(v) ? '–' : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`;
export const mb = (v) => (typeof v !== 'number' || Number.isNaN(v) ? '–' : `${v.toFixed(1)} MB`);
export const times = (v) =>
  typeof v !== 'number' || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}×`;
export const percent = (v) => (typeof v !== 'number' ? '–' : `${(v * 100).toFixed(0)}%`);
export const signedPercent = (v) =>
  typeof v !== 'number' || Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`;

/** "median (min–max)" of a summary, in the given unit formatter. */
export const withRange = (summary, unit) =>
  summary ? `${unit(summary.median)} (${unit(summary.min)}–${unit(summary.max)})` : '–';

export const ROLE_LABELS = {
  limit: 'floor (no library)',
  core: 'Node core',
  peer: 'library',
  paipa: 'paipa',
};
