// `npm test`: runs every test runner of the project in turn and ends with one line,
//
//     N passed, N failed, N skipped
//
// totals over every runner, also written to .test-results/summary.txt (.ci/run prints it again
// as its last line). Exits non-zero if a test failed or a runner ended without reporting counts.
//
// Usage: npm test [-- FILTER…]
//   A FILTER that names an existing path (file or folder, relative to the repo or the current
//   directory) selects the test files under it; any other FILTER selects test files whose repo
//   path contains it (`npm test -- merkle`).
//
// Adding a runner (Vitest for the renderer, Playwright for end-to-end): write one more
// `TestRunner` — which folders it owns, which files are its tests, how to run them and read the
// counts from a machine-readable report under .test-results/ — and append it to `runners`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(import.meta.dirname, '..');
const resultsDir = path.join(repoRoot, '.test-results');
const summaryFile = path.join(resultsDir, 'summary.txt');

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

type RunnerOutcome =
  | { kind: 'reported'; counts: Counts }
  // The runner ended without a report we could read (crash, killed, bad arguments). It counts
  // as one failure so that the summary line can never read as a pass.
  | { kind: 'crashed'; reason: string };

interface TestRunner {
  readonly name: string;
  /** Top-level folders (repo-relative) whose test files this runner owns. */
  readonly roots: readonly string[];
  /** Whether a repo-relative path (forward slashes) under `roots` is one of this runner's tests. */
  isTestFile(relativePath: string): boolean;
  /** Runs the given test files (repo-relative, never empty) and reads the counts. */
  run(files: readonly string[]): Promise<RunnerOutcome>;
}

// ---------------------------------------------------------------------------------------------
// Runner: Node's built-in test runner (node:test) over *.test.ts.

const nodeTestRunner: TestRunner = {
  name: 'node:test',
  roots: ['shared', 'node-adapters', 'recorder', 'server', 'cli', 'scripts', 'test'],
  isTestFile: (relativePath) => relativePath.endsWith('.test.ts'),
  async run(files) {
    // One file per run: two `npm test` runs at once (two engineers on one machine) must not
    // read each other's counts.
    const tapFile = path.join(resultsDir, `node-test.${process.pid}.tap`);
    rmSync(tapFile, { force: true });
    const exit = await runChild(process.execPath, [
      '--test',
      // 2-core machine; recorder tests spawn ptys and child processes of their own.
      '--test-concurrency=2',
      // Generous: end-to-end tests start real processes. A hung test still ends the run.
      '--test-timeout=600000',
      // Human-readable output streams live; TAP goes to a file for the counts.
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapFile}`,
      ...files,
    ]);
    const counts = existsSync(tapFile) ? countsFromTap(readFileSync(tapFile, 'utf8')) : undefined;
    if (counts === undefined) {
      return { kind: 'crashed', reason: `no TAP summary in ${path.relative(repoRoot, tapFile)} (${exit})` };
    }
    if (exit !== 'exit code 0' && counts.failed === 0) {
      // node --test exits non-zero when anything failed; a clean report with a failing exit
      // means the runner itself broke.
      return { kind: 'crashed', reason: `${exit}, although the TAP report shows no failure` };
    }
    return { kind: 'reported', counts };
  },
};

/**
 * The counts from the final summary lines of node:test's TAP reporter (`# pass 3`, …).
 * Cancelled tests (timeouts, a file that died mid-run) count as failed; todo tests as skipped.
 */
function countsFromTap(tap: string): Counts | undefined {
  const last = (field: string): number | undefined => {
    const matches = [...tap.matchAll(new RegExp(`^# ${field} (\\d+)$`, 'gm'))];
    const value = matches.at(-1)?.[1];
    return value === undefined ? undefined : Number(value);
  };
  const pass = last('pass');
  const fail = last('fail');
  if (pass === undefined || fail === undefined) return undefined;
  return {
    passed: pass,
    failed: fail + (last('cancelled') ?? 0),
    skipped: (last('skipped') ?? 0) + (last('todo') ?? 0),
  };
}

// To add a runner, append it here; the totals and the exit code follow.
const runners: readonly TestRunner[] = [nodeTestRunner];

// ---------------------------------------------------------------------------------------------

function runChild(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    // No stdin: tests must not wait for a keyboard. Output is the user's terminal, live.
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (error) => resolve(`could not start: ${error.message}`));
    child.on('close', (code, signal) => resolve(signal === null ? `exit code ${code}` : `killed by ${signal}`));
  });
}

/** Every file under `dir` (absolute), as repo-relative paths with forward slashes. */
function walk(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // node_modules, and dot folders such as .git and .test-results, never hold our tests.
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(full));
    else if (entry.isFile()) found.push(path.relative(repoRoot, full).split(path.sep).join('/'));
  }
  return found;
}

type Filter = { kind: 'path'; relativePath: string } | { kind: 'substring'; text: string };

function parseFilter(argument: string): Filter {
  for (const base of [process.cwd(), repoRoot]) {
    const candidate = path.resolve(base, argument);
    const relativePath = path.relative(repoRoot, candidate).split(path.sep).join('/');
    if (existsSync(candidate) && !relativePath.startsWith('..')) return { kind: 'path', relativePath };
  }
  return { kind: 'substring', text: argument.split(path.sep).join('/') };
}

function matches(file: string, filter: Filter): boolean {
  switch (filter.kind) {
    case 'path':
      return filter.relativePath === '' || file === filter.relativePath || file.startsWith(`${filter.relativePath}/`);
    case 'substring':
      return file.includes(filter.text);
    default:
      return filter satisfies never;
  }
}

const isDirectory = (relativePath: string): boolean => {
  const full = path.join(repoRoot, relativePath);
  return existsSync(full) && statSync(full).isDirectory();
};

async function main(): Promise<number> {
  const filters = process.argv.slice(2).map(parseFilter);
  const selected = (file: string): boolean => filters.length === 0 || filters.some((filter) => matches(file, filter));

  // A stale summary must never stand in for this run (.ci/run reads it).
  mkdirSync(resultsDir, { recursive: true });
  rmSync(summaryFile, { force: true });

  const totals: Counts = { passed: 0, failed: 0, skipped: 0 };
  const claimed = new Set<string>();
  for (const runner of runners) {
    const files = runner.roots
      .filter(isDirectory)
      .flatMap((root) => walk(path.join(repoRoot, root)))
      .filter((file) => runner.isTestFile(file) && selected(file))
      .sort();
    files.forEach((file) => claimed.add(file));
    if (files.length === 0) {
      console.log(`\n${runner.name}: no test files${filters.length > 0 ? ' match the filters' : ''}.`);
      continue;
    }
    console.log(`\n${runner.name}: ${files.length} test file${files.length === 1 ? '' : 's'}\n`);
    const outcome = await runner.run(files);
    switch (outcome.kind) {
      case 'reported':
        totals.passed += outcome.counts.passed;
        totals.failed += outcome.counts.failed;
        totals.skipped += outcome.counts.skipped;
        break;
      case 'crashed':
        console.error(`\n${runner.name} ended without reporting: ${outcome.reason}. Counted as 1 failed.`);
        totals.failed += 1;
        break;
      default:
        outcome satisfies never;
    }
  }

  // A test file that no runner owns would never run, silently. Say so.
  const orphans = walk(repoRoot).filter(
    (file) => /\.(test|spec)\.[cm]?tsx?$/.test(file) && !claimed.has(file) && selected(file),
  );
  if (orphans.length > 0) {
    console.error(`\nNot run by any runner (add its folder to a runner in scripts/test.ts):\n  ${orphans.join('\n  ')}`);
  }

  const ranNothing = filters.length > 0 && claimed.size === 0;
  if (ranNothing) console.error(`\nNo test file matches ${process.argv.slice(2).join(' ')}.`);

  const summary = `${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`;
  writeFileSync(summaryFile, `${summary}\n`);
  console.log(`\n${summary}`);
  return totals.failed > 0 || ranNothing ? 1 : 0;
}

process.exitCode = await main();
