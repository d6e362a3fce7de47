/** Shared output of every benchmark: CONTRACT.md's JSON fields, progress and a sparkline. */
export interface BenchResult {
  scenario: string;
  backend: string;
  count: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  lost: number;
  duplicates: number;
  rssMb: number;
  [extra: string]: unknown;
}

const bars = '▁▂▃▄▅▆▇█';

/** A one-line chart of a series, for people who would rather look than read. */
export function sparkline(series: readonly number[]): string {
  if (series.length === 0) return '';
  const max = Math.max(...series);
  const min = Math.min(...series);
  const span = max - min || 1;
  return series
    .map((v) => bars[Math.min(bars.length - 1, Math.floor(((v - min) / span) * (bars.length - 1)))])
    .join('');
}

/** `[#####-----]  12.0/20 s  34,567 done  3,021/s` for a progress line on stderr. */
export function progressLine(elapsed: number, total: number, done: number, rate: number): string {
  const width = 24;
  const filled = Math.min(width, Math.round((elapsed / total) * width));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${elapsed.toFixed(0).padStart(3)}/${total} s  ${done.toLocaleString('en-US')} done  ${rate.toLocaleString('en-US')}/s   `;
}
