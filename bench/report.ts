/**
 * How every benchmark prints its results: a title, what is measured, then one
 * table row per figure (name, baseline, candidate, ratio, goal, PASS/MISS).
 * The baseline is always measured in the same run as the candidate: the
 * machine is shared and noisy, so only ratios are comparable between runs.
 *
 * At the end, `Report.finish()` prints one machine-readable line
 * (`##bench-result {json}`) that scripts/bench.ts collects for its summary.
 */

export type Verdict = 'PASS' | 'MISS' | 'info';

export interface Row {
  /** What the row compares, e.g. "throughput through exit". */
  readonly name: string;
  readonly baseline: string;
  readonly candidate: string;
  /** Candidate against baseline, already formatted (e.g. "0.93×", "+0.04 ms"). */
  readonly ratio: string;
  /** The target in words, e.g. "≥ 0.90×"; "—" for figures reported without a goal. */
  readonly goal: string;
  readonly verdict: Verdict;
}

export const RESULT_PREFIX = '##bench-result ';

export interface BenchResult {
  readonly bench: string;
  readonly rows: readonly Row[];
}

const COLUMNS: readonly (keyof Row)[] = ['name', 'baseline', 'candidate', 'ratio', 'goal', 'verdict'];
const HEADINGS: Record<keyof Row, string> = {
  name: 'measure',
  baseline: 'baseline',
  candidate: 'candidate',
  ratio: 'ratio / added',
  goal: 'goal',
  verdict: 'result',
};

/** Display width of a string in a monospace terminal (all our characters are one cell wide). */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number): string {
  return text + ' '.repeat(Math.max(0, size - width(text)));
}

/** Prints rows as an aligned table. */
export function printTable(rows: readonly Row[]): void {
  const sizes = COLUMNS.map((column) => Math.max(width(HEADINGS[column]), ...rows.map((row) => width(row[column]))));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => pad(cell, sizes[i]!)).join('  ').trimEnd();
  console.log(line(COLUMNS.map((column) => HEADINGS[column])));
  console.log(line(sizes.map((size) => '-'.repeat(size))));
  for (const row of rows) console.log(line(COLUMNS.map((column) => row[column])));
}

export class Report {
  readonly #bench: string;
  readonly #rows: Row[] = [];

  /** Prints the title and the description (what is measured, against what). */
  constructor(bench: string, title: string, description: readonly string[]) {
    this.#bench = bench;
    console.log(`\n=== ${title} ===`);
    for (const text of description) console.log(`  ${text}`);
    console.log('');
  }

  /** A row with a goal: PASS when `pass` holds. */
  goal(name: string, baseline: string, candidate: string, ratio: string, goal: string, pass: boolean): void {
    this.#rows.push({ name, baseline, candidate, ratio, goal, verdict: pass ? 'PASS' : 'MISS' });
  }

  /** A row reported for context, without a goal. */
  info(name: string, baseline: string, candidate: string, ratio = '—'): void {
    this.#rows.push({ name, baseline, candidate, ratio, goal: '—', verdict: 'info' });
  }

  /** Prints the table, any notes, and the machine-readable result line. */
  finish(notes: readonly string[] = []): void {
    printTable(this.#rows);
    if (notes.length > 0) console.log('');
    for (const note of notes) console.log(`  note: ${note}`);
    const result: BenchResult = { bench: this.#bench, rows: this.#rows };
    console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
  }
}

// -- formatting and statistics ---------------------------------------------------------------

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile (p in 0..100) of the values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const MB = 1e6;
export const MiB = 1024 * 1024;

/** Decimal megabytes, the unit every throughput here is in (MB/s = 10^6 bytes per second). */
export function mb(bytes: number, digits = 1): string {
  return `${(bytes / MB).toFixed(digits)} MB`;
}

export function mbps(bytes: number, ms: number): number {
  return bytes / MB / (ms / 1000);
}

export function fmtMbps(value: number): string {
  return `${value.toFixed(0)} MB/s`;
}

export function fmtMs(ms: number, digits = 3): string {
  return `${ms.toFixed(digits)} ms`;
}

export function fmtRatio(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}

export function fmtSigned(ms: number, digits = 3): string {
  return `${ms >= 0 ? '+' : '−'}${Math.abs(ms).toFixed(digits)} ms`;
}

/** Whether the benchmark was started with --quick (smaller sizes, for a fast check). */
export function isQuick(argv: readonly string[] = process.argv.slice(2)): boolean {
  return argv.includes('--quick');
}
