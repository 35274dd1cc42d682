// `npm run bench`: runs the benchmarks under bench/ one after another, each in its own child
// process (so that its memory and CPU figures are its own), then prints one summary of every goal.
//
// Usage: npm run bench [-- [--quick] [--strict] [NAME…]]
//   NAME      run only the benchmarks whose name starts with NAME (`npm run bench -- verify echo`)
//   --quick   smaller sizes, for a fast check (about 1 minute instead of about 3–4)
//   --strict  exit non-zero when a goal is missed (by default only a crashed benchmark fails the run)
//
// Speed goals live here, never in tests: the machine is shared and timings are noisy, so every
// benchmark measures its baseline in the same run and judges the ratio.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { printTable, RESULT_PREFIX, type BenchResult, type Row } from '../bench/report.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');

interface Bench {
  readonly name: string;
  readonly file: string;
  readonly about: string;
}

const benches: readonly Bench[] = [
  { name: 'throughput', file: 'bench/throughput.ts', about: 'output throughput through the recorder vs the bypass host (in-process node-pty shown too); record-path capacity' },
  { name: 'echo-latency', file: 'bench/echo-latency.ts', about: 'keystroke echo latency added by the recorder (p50, p99)' },
  { name: 'verify', file: 'bench/verify.ts', about: 'verifyBundle (node:zlib codec, as the CLI) on a ~100 MB recording vs raw SHA-256' },
  { name: 'memory', file: 'bench/memory.ts', about: 'recorder RSS over a 1 GB session (flat?) vs a bypass host' },
  { name: 'redaction', file: 'bench/redaction.ts', about: 'StreamRedactor MB/s per core on 200 MB of terminal output; recall/precision on a labelled corpus vs secretlint; echo-off through the recorder' },
  { name: 'jit', file: 'bench/jit.ts', about: 'JIT request → approval → start → SSH certificate p50/p99 at 50 concurrent clients vs GET /v1/me' },
  { name: 'ingest', file: 'bench/ingest.ts', about: 'service ingest (tus upload, verify, cosign, store, index, receipt) MB/s vs copyFile + fsync of the same bundles' },
];

type Outcome = { kind: 'reported'; result: BenchResult; seconds: number } | { kind: 'crashed'; reason: string; seconds: number };

function run(bench: Bench, flags: readonly string[]): Promise<Outcome> {
  const start = performance.now();
  const seconds = (): number => (performance.now() - start) / 1000;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bench.file, ...flags], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let result: BenchResult | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length)) as BenchResult;
      else console.log(line);
    });
    // Ctrl-C reaches the child too (same process group); it deletes its temp folder and exits.
    child.on('error', (error) => resolve({ kind: 'crashed', reason: error.message, seconds: seconds() }));
    child.on('close', (code, signal) => {
      if (code === 0 && result !== undefined) resolve({ kind: 'reported', result, seconds: seconds() });
      else resolve({ kind: 'crashed', reason: signal !== null ? `killed by ${signal}` : result === undefined ? `exited with code ${code} without a result` : `exited with code ${code}`, seconds: seconds() });
    });
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: npm run bench [-- [--quick] [--strict] [NAME…]]\n');
    for (const bench of benches) console.log(`  ${bench.name.padEnd(14)} ${bench.about}`);
    return 0;
  }
  const unknownFlag = args.find((arg) => arg.startsWith('-') && arg !== '--quick' && arg !== '--strict');
  if (unknownFlag !== undefined) {
    console.error(`bench: unknown option ${unknownFlag} (known: --quick, --strict, --help)`);
    return 2;
  }
  const names = args.filter((arg) => !arg.startsWith('-'));
  const selected = names.length === 0 ? benches : benches.filter((bench) => names.some((name) => bench.name.startsWith(name)));
  const unmatched = names.filter((name) => !benches.some((bench) => bench.name.startsWith(name)));
  if (unmatched.length > 0) {
    console.error(`bench: no benchmark named ${unmatched.join(', ')} (known: ${benches.map((b) => b.name).join(', ')})`);
    return 2;
  }
  const flags = args.includes('--quick') ? ['--quick'] : [];
  console.log(`node ${process.version}, ${selected.length} benchmark(s)${flags.length > 0 ? ', --quick' : ''}: ${selected.map((b) => b.name).join(', ')}`);

  const outcomes: [Bench, Outcome][] = [];
  for (const bench of selected) outcomes.push([bench, await run(bench, flags)]);

  console.log('\n=== summary ===');
  const rows: Row[] = [];
  let crashed = 0;
  let missed = 0;
  for (const [bench, outcome] of outcomes) {
    if (outcome.kind === 'crashed') {
      crashed++;
      rows.push({ name: `${bench.name}: CRASHED (${outcome.reason})`, baseline: '—', candidate: '—', ratio: '—', goal: '—', verdict: 'MISS' });
      continue;
    }
    for (const row of outcome.result.rows) {
      if (row.verdict === 'info') continue;
      if (row.verdict === 'MISS') missed++;
      rows.push({ ...row, name: `${bench.name}: ${row.name}` });
    }
  }
  printTable(rows);
  console.log('');
  for (const [bench, outcome] of outcomes) console.log(`  ${bench.name.padEnd(14)} ${outcome.seconds.toFixed(0).padStart(4)} s`);
  const goals = rows.length - crashed;
  console.log(`\n${goals - missed} of ${goals} goals met${crashed > 0 ? `, ${crashed} benchmark(s) crashed` : ''}`);
  return crashed > 0 || (args.includes('--strict') && missed > 0) ? 1 : 0;
}

process.exitCode = await main();
