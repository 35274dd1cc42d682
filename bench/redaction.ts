/**
 * Redaction: how fast the record path's redactor is, and how well it finds secrets, next to
 * secretlint run on the same corpus in the same run.
 *
 * 1. Throughput. Mixed terminal output (bench/secret-corpus.ts: ls, git log, compiler, kubectl,
 *    npm, docker output with colours, one labelled block with a secret or a look-alike every
 *    ~300 lines), "\r\n" line ends, repeated to 200 MB (40 MB with --quick), cut into pty-sized
 *    reads (4095 bytes). Each read is decoded (TextDecoder, streaming) and handed to
 *    `sessionRedactor(…).output()` (recorder/redaction.ts: the built-in rules, as a session
 *    without known secrets runs them). Goal: ≥ 100 MB/s of CPU time on the main thread (the
 *    redactor is single-threaded, so that is per core). Printed beside it, on the same reads:
 *    TextDecoder + the pass-through redactor (decode and a piece per read: the floor), and
 *    TextDecoder + scanText on each read alone (the scanner without holdback or the terminal
 *    model). The recorder's end-to-end throughput (≥ 0.9× the bypass host) is the throughput
 *    benchmark's (bench/throughput.ts: its recorder redacts); it is not repeated here.
 *
 * 2. Recall and precision on a labelled corpus (bench/secret-corpus.ts): provider tokens,
 *    private keys and JWTs, context secrets (URLs, assignments, flags, headers, Kubernetes
 *    secrets), high-entropy keys, known secrets (the session's injected values, verbatim and
 *    encoded), and look-alikes that are not secrets. Terminal transforms: chunks split inside
 *    secrets, SGR codes inside tokens, CRLF, typed or pasted at the prompt (echo and input keys),
 *    backspaced typos, readline's wrap at 80 columns, idle releases at prompts and pauses.
 *    The redactor is the session's (`sessionRedactor` with the corpus's known secrets), fed the
 *    reads and idle() calls the record path would make; input keys go through `input()`.
 *    Judging: the recorded output is rendered by a small terminal model of this file (not the
 *    product's), cut into blocks at the numbered prompts; a secret is found when no 5-character
 *    substring of it survives in its block (nor in the recorded keys, when typed). A look-alike is
 *    a false positive when any of it is masked; masks anywhere else (filler, context) are false
 *    positives too. Secretlint (@secretlint/core, recommended preset) is a file scanner, not a
 *    streaming one: it is run on the whole plain-text version of the corpus AND on the
 *    terminal-transformed stream as one string; a secret counts as found when its reported
 *    ranges cover every character of it.
 *
 * 3. Echo-off input: a real recorder (test/support/recording.ts `RecorderFixture`: recorder
 *    process, node-pty, bash) records passwords and tokens typed at `read -s` and `stty -echo`
 *    prompts; found when no 5-character substring of any is in the sealed recording.
 *
 *   node bench/redaction.ts [--quick]
 */
import { lintSource } from '@secretlint/core';
import { creator as recommendPreset } from '@secretlint/secretlint-rule-preset-recommend';
import { passThroughRedactor, type RedactedPiece, type Redactor } from '../shared/redaction/redactor.ts';
import { devRedactionKey } from '../shared/redaction/fingerprint.ts';
import { parseMarker } from '../shared/redaction/markers.ts';
import { BUILTIN_RULES } from '../shared/redaction/rules/index.ts';
import { compileRules, scanText } from '../shared/redaction/scanner.ts';
import { readRecording } from '../shared/bundle/index.ts';
import { sessionRedactor } from '../recorder/redaction.ts';
import { INTERACTIVE_BASH, PROMPT, RecorderFixture, type SessionStep } from '../test/support/recording.ts';
import { threadCpuSeconds } from './proc.ts';
import { PTY_READ_BYTES } from './record-path.ts';
import { buildLabelledCorpus, buildThroughputUnit, COLS, PROMPT_RE, type Category, type LabelledCorpus, type Positive } from './secret-corpus.ts';
import { fmtMbps, isQuick, mb, Report } from './report.ts';
import { fakeRandom, BASE62 } from '../shared/redaction/rules/samples.test-support.ts';
import { DEFAULT_POLICY } from '../shared/redaction/policy.ts';

const quick = isQuick();
const THROUGHPUT_BYTES = quick ? 40_000_000 : 200_000_000;
const REPEATS = quick ? 1 : 2;
const LABELLED = quick ? { perKind: 8, negativesPerKind: 10, fillerLines: 6 } : { perKind: 40, negativesPerKind: 50, fillerLines: 12 };
const ECHO_OFF_SECRETS = quick ? 6 : 24;
const POLICY = { ...DEFAULT_POLICY, version: 'bench', recordInput: true };
const KEY = devRedactionKey('bench');

// -- 1. throughput ----------------------------------------------------------------------------

interface Timing {
  /** CPU seconds of the main thread (the one the redactor runs on). */
  readonly mainCpu: number;
  /** CPU seconds of the process, all threads (GC helpers included). */
  readonly cpu: number;
  readonly wall: number;
}

function timed(run: () => void): Timing {
  const main0 = threadCpuSeconds(process.pid, process.pid) ?? 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  run();
  const wall = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainCpu = (threadCpuSeconds(process.pid, process.pid) ?? 0) - main0;
  return { mainCpu, cpu: (cpu.user + cpu.system) / 1e6, wall };
}

function throughputReads(): { reads: Uint8Array[]; bytes: number; lines: number; secrets: number; unitBytes: number } {
  const unit = buildThroughputUnit(300, quick ? 6 : 16);
  const unitBytes = Buffer.from(unit.stream, 'utf8');
  const all = Buffer.alloc(THROUGHPUT_BYTES);
  for (let at = 0; at < all.length; at += unitBytes.length) unitBytes.copy(all, at, 0, Math.min(unitBytes.length, all.length - at));
  const reads: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += PTY_READ_BYTES) reads.push(all.subarray(i, i + PTY_READ_BYTES));
  const repeats = all.length / unitBytes.length;
  return { reads, bytes: all.length, lines: Math.round(unit.lines * repeats), secrets: Math.round(unit.secrets * repeats), unitBytes: unitBytes.length };
}

function drive(reads: readonly Uint8Array[], redactor: Redactor): { masks: number } {
  const decoder = new TextDecoder('utf-8');
  let masks = 0;
  const count = (pieces: RedactedPiece[]): void => {
    for (const piece of pieces) if (piece.kind === 'marker') masks++;
  };
  for (const read of reads) count(redactor.output(decoder.decode(read, { stream: true })));
  count(redactor.output(decoder.decode()));
  count(redactor.end());
  return { masks };
}

function measureThroughput(report: Report): void {
  const { reads, bytes, lines, secrets, unitBytes } = throughputReads();
  console.log(`  corpus: ${mb(bytes, 0)} (a ${mb(unitBytes)} unit repeated), ~${(lines / 1e6).toFixed(2)} M lines, ~${secrets} labelled secrets (one per ~${Math.round(lines / secrets)} lines), ${reads.length} reads of ${PTY_READ_BYTES} bytes`);
  const compiled = compileRules(BUILTIN_RULES);
  const variants = {
    copy: (): void => void drive(reads, passThroughRedactor('bench')),
    scanner: (): void => {
      const decoder = new TextDecoder('utf-8');
      let spans = 0;
      for (const read of reads) spans += scanText(decoder.decode(read, { stream: true }), compiled).length;
      if (spans < 0) throw new Error('unreachable');
    },
    redactor: (): void => {
      const result = drive(reads, sessionRedactor({ policy: POLICY, knownSecrets: [], key: KEY, cols: COLS }));
      masks = result.masks;
    },
  };
  let masks = 0;
  const best = new Map<string, Timing>();
  for (let r = 0; r < REPEATS; r++) {
    // A slow redactor is timed once: at a few MB/s a second 200 MB pass adds minutes and no information.
    if (r > 0 && best.get('redactor')!.wall > 30) break;
    for (const [name, run] of Object.entries(variants)) {
      const t = timed(run);
      const previous = best.get(name);
      if (previous === undefined || t.mainCpu < previous.mainCpu) best.set(name, t);
      console.log(`  run ${r + 1} ${name.padEnd(9)} main thread ${t.mainCpu.toFixed(2)} s CPU, process ${t.cpu.toFixed(2)} s CPU, ${t.wall.toFixed(2)} s wall`);
    }
  }
  const rate = (seconds: number): number => bytes / 1e6 / seconds;
  const perGb = (seconds: number): string => `${((seconds / bytes) * 1e9).toFixed(2)} s/GB`;
  const copy = best.get('copy')!;
  const scanner = best.get('scanner')!;
  const redactor = best.get('redactor')!;
  console.log('');
  report.goal(
    'StreamRedactor.output(), MB/s of main-thread CPU (per core)',
    `${fmtMbps(rate(copy.mainCpu))} (decode + pass-through)`,
    fmtMbps(rate(redactor.mainCpu)),
    `${(redactor.mainCpu / copy.mainCpu).toFixed(1)}× the CPU`,
    '≥ 100 MB/s',
    rate(redactor.mainCpu) >= 100,
  );
  report.info('  CPU per GB, main thread', perGb(copy.mainCpu), perGb(redactor.mainCpu));
  report.info('  CPU per GB, whole process (GC threads too)', perGb(copy.cpu), perGb(redactor.cpu));
  report.info('  MB/s by wall time', fmtMbps(rate(copy.wall)), fmtMbps(rate(redactor.wall)));
  report.info('  scanner alone (scanText per read, no holdback/terminal model)', '—', `${fmtMbps(rate(scanner.mainCpu))}, ${perGb(scanner.mainCpu)}`);
  report.info('  redactions made in the throughput corpus', '—', `${masks} markers (~${secrets} labelled secrets)`);
}

// -- 2. labelled corpus: our redactor ------------------------------------------------------------

/**
 * A small terminal model for judging (independent of shared/redaction/terminal-view.ts): cells
 * written at the cursor, autowrap with xterm's pending-wrap state (soft-wrapped rows join into one
 * logical line), CR, LF, BS, CSI K (erase in line); every other escape sequence is invisible.
 * `\0label\0` in the text is a redaction marker, attributed to the row of the last `*` written.
 */
function render(text: string, cols: number): { lines: string[]; markers: { line: number; ruleId: string }[] } {
  const rows: string[][] = [[]];
  const wrapped: boolean[] = [false];
  let row = 0;
  let col = 0;
  let pending = false;
  let lastStarRow = 0;
  const markers: { row: number; ruleId: string }[] = [];
  const newRow = (soft: boolean): void => {
    row++;
    if (rows[row] === undefined) {
      rows[row] = [];
      wrapped[row] = soft;
    }
  };
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) {
      const end = text.indexOf('\0', i + 1);
      const marker = parseMarker(text.slice(i + 1, end));
      markers.push({ row: lastStarRow, ruleId: marker?.kind === 'redacted' ? marker.ruleId : '?' });
      i = end;
      continue;
    }
    if (c === 0x1b) {
      const next = text[i + 1];
      if (next === '[') {
        let j = i + 2;
        while (j < n && /[0-?]/.test(text[j]!)) j++;
        while (j < n && /[ -/]/.test(text[j]!)) j++;
        if (text[j] === 'K') {
          const mode = text.slice(i + 2, j);
          const cells = rows[row]!;
          if (mode === '' || mode === '0') cells.length = Math.min(cells.length, col);
          else if (mode === '2') cells.length = 0;
          else for (let k = 0; k <= col && k < cells.length; k++) cells[k] = ' ';
        }
        i = j;
      } else if (next === ']') {
        let j = i + 2;
        while (j < n && text[j] !== '\x07' && !(text[j] === '\x1b' && text[j + 1] === '\\')) j++;
        i = text[j] === '\x07' ? j : j + 1;
      } else {
        let j = i + 1;
        while (j < n && /[ -/]/.test(text[j]!)) j++;
        i = j;
      }
      continue;
    }
    if (c === 0x0d) {
      col = 0;
      pending = false;
      continue;
    }
    if (c === 0x0a) {
      newRow(false);
      pending = false;
      continue;
    }
    if (c === 0x08) {
      pending = false;
      col = Math.max(0, col - 1);
      continue;
    }
    if (c === 0x09) {
      col = Math.min(cols - 1, (Math.floor(col / 8) + 1) * 8);
      continue;
    }
    if (c < 0x20 || c === 0x7f) continue;
    if (pending) {
      newRow(true);
      col = 0;
      pending = false;
    }
    const cells = rows[row]!;
    while (cells.length < col) cells.push(' ');
    let char = text[i]!;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) char += text[++i];
    cells[col] = char;
    if (char === '*') lastStarRow = row;
    col++;
    if (col === cols) {
      col = cols - 1;
      pending = true;
    }
  }
  // Logical lines: soft-wrapped rows join their predecessor.
  const lines: string[] = [];
  const lineOfRow: number[] = [];
  rows.forEach((cells, r) => {
    const textOfRow = cells.join('');
    if (r > 0 && wrapped[r] === true) lines[lines.length - 1] += textOfRow;
    else lines.push(textOfRow);
    lineOfRow[r] = lines.length - 1;
  });
  return { lines, markers: markers.map((m) => ({ line: lineOfRow[m.row] ?? 0, ruleId: m.ruleId })) };
}

/** The rendered session cut at the numbered prompts: block number → text, and the markers in it. */
function blocks(text: string): { text: Map<number, string>; markers: Map<number, string[]> } {
  const { lines, markers } = render(text, COLS);
  const byBlock = new Map<number, string[]>();
  const blockOfLine: number[] = [];
  let current = -1;
  lines.forEach((line, index) => {
    const m = PROMPT_RE.exec(line);
    if (m !== null) current = Number(m[1]);
    if (!byBlock.has(current)) byBlock.set(current, []);
    byBlock.get(current)!.push(line);
    blockOfLine[index] = current;
  });
  const markersByBlock = new Map<number, string[]>();
  for (const marker of markers) {
    const block = blockOfLine[marker.line] ?? -1;
    if (!markersByBlock.has(block)) markersByBlock.set(block, []);
    markersByBlock.get(block)!.push(marker.ruleId);
  }
  return { text: new Map([...byBlock].map(([block, list]) => [block, list.join('\n')])), markers: markersByBlock };
}

/** A 5-character substring of `part` found in `text`, ignoring those that `elsewhere` holds anyway (a date beside a token). */
const survives = (part: string, text: string, elsewhere = ''): string | undefined => {
  if (part.length < 5) return text.includes(part) ? part : undefined;
  for (let i = 0; i + 5 <= part.length; i++) {
    const gram = part.slice(i, i + 5);
    if (text.includes(gram) && !elsewhere.includes(gram)) return gram;
  }
  return undefined;
};

/** Typed keys with DEL and BS applied per line. */
function typedText(keys: string): string {
  const out: string[] = [];
  for (const key of keys) {
    if (key === '\x7f' || key === '\b') out.pop();
    else out.push(key);
  }
  return out.join('');
}

interface OurVerdict {
  readonly found: boolean[];
  readonly leaked: (string | undefined)[];
  readonly markers: Map<number, string[]>;
  readonly falseNegatives: boolean[];
  readonly collateral: { block: number; text: string; rules: string[] }[];
  readonly actual: Map<number, string>;
  readonly expected: Map<number, string>;
  readonly missingInExpected: number;
}

function runOurs(corpus: LabelledCorpus): OurVerdict {
  const redactor = sessionRedactor({ policy: POLICY, knownSecrets: corpus.knownSecrets, key: KEY, cols: COLS });
  const stream = corpus.stream;
  // Reads: a 4095-character grid, plus the forced cuts, the idle points and every key's echo.
  // At an idle point the record path calls idle(); before it records a key, releaseOutput()
  // (recorder/record-path/pipeline.ts #takeKeys); a key goes through input() before its echo.
  const idle = new Set(corpus.idles);
  const keysAt = new Map<number, (typeof corpus.keys)[number][]>();
  for (const key of corpus.keys) keysAt.set(key.at, [...(keysAt.get(key.at) ?? []), key]);
  const boundaries = new Set<number>([...corpus.cuts, ...corpus.idles, ...keysAt.keys()]);
  for (let i = PTY_READ_BYTES; i < stream.length; i += PTY_READ_BYTES) boundaries.add(i);
  const sorted = [...boundaries].filter((b) => b > 0 && b < stream.length).sort((a, b) => a - b);
  const out: string[] = [];
  const recordedKeys: string[] = [];
  const take = (pieces: RedactedPiece[]): void => {
    for (const piece of pieces) out.push(piece.kind === 'text' ? piece.text : `\0${piece.label}\0`);
  };
  const takeKeys = (block: number, pieces: RedactedPiece[]): void => {
    for (const piece of pieces) if (piece.kind === 'text') recordedKeys[block] = (recordedKeys[block] ?? '') + piece.text;
  };
  let lastBlock = 0;
  let from = 0;
  for (const to of [...sorted, stream.length]) {
    let cut = to;
    const c = stream.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) cut++; // never between the halves of a surrogate pair
    if (cut > from) {
      take(redactor.output(stream.slice(from, cut)));
      from = cut;
    }
    if (idle.has(to)) {
      // As the record path's idle timer: held output goes out as output, a pending input line as keys.
      take(redactor.idle());
      takeKeys(lastBlock, redactor.flushInput());
    }
    for (const key of keysAt.get(to) ?? []) {
      if (redactor.holding) take(redactor.releaseOutput());
      takeKeys(key.block, redactor.input(key.text));
      lastBlock = key.block;
    }
  }
  take(redactor.end());

  const expected = blocks(stream);
  const actualBlocks = blocks(out.join(''));
  const actual = actualBlocks.text;
  let missingInExpected = 0;
  const found: boolean[] = [];
  const leaked: (string | undefined)[] = [];
  const allowed = new Map<number, [number, number][]>();
  for (const p of corpus.positives) {
    const exp = expected.text.get(p.block) ?? '';
    const act = actual.get(p.block) ?? '';
    const keys = typedText(recordedKeys[p.block] ?? '');
    let leak: string | undefined;
    for (const part of p.parts) {
      const at = exp.indexOf(part);
      if (at < 0) {
        missingInExpected++;
        console.log(`  corpus check: ${p.kind} #${p.index} is not visible whole in its block ${p.block}`);
      }
      else {
        const list = allowed.get(p.block) ?? [];
        // A private key's BEGIN/END lines and a token's own context line may be masked with it.
        const lineStart = exp.lastIndexOf('\n', at) + 1;
        const lineEnd = exp.indexOf('\n', at + part.length);
        list.push(p.category === 'structured' || /^(k8s-secret|aws-secret)/.test(p.kind) ? [0, exp.length] : [Math.max(lineStart, at - 2), lineEnd < 0 ? exp.length : Math.min(lineEnd, at + part.length + 2)]);
        allowed.set(p.block, list);
      }
      leak ??= survives(part, act, exp.replace(part, ''));
      if (p.transforms.includes('typed')) leak ??= survives(part, keys) === undefined ? undefined : `${survives(part, keys)} (in the recorded keys)`;
    }
    found.push(leak === undefined);
    leaked.push(leak);
  }
  const falseNegatives = corpus.negatives.map((n) => {
    const exp = expected.text.get(n.block) ?? '';
    if (!exp.includes(n.value)) {
      missingInExpected++;
      console.log(`  corpus check: look-alike ${n.kind} #${n.index} is not visible whole in its block ${n.block}`);
    }
    return !(actual.get(n.block) ?? '').includes(n.value);
  });
  const negativeBlocks = new Set(corpus.negatives.map((n) => n.block));
  // Masks outside the labelled secrets (look-alike blocks are judged above, per look-alike).
  const collateral: { block: number; text: string; rules: string[] }[] = [];
  for (const [block, exp] of expected.text) {
    if (negativeBlocks.has(block)) continue;
    const act = actual.get(block) ?? '';
    if (act === exp) continue;
    const ok = allowed.get(block) ?? [];
    const expLines = exp.split('\n');
    const actLines = act.split('\n');
    let offset = 0;
    expLines.forEach((line, index) => {
      const other = actLines[index] ?? '';
      for (let i = 0; i < Math.max(line.length, other.length); i++) {
        if (other[i] === '*' && line[i] !== '*') {
          let j = i;
          while (j < other.length && other[j] === '*' && line[j] !== '*') j++;
          const start = offset + i;
          if (!ok.some(([a, b]) => start < b && offset + j > a)) collateral.push({ block, text: line, rules: actualBlocks.markers.get(block) ?? [] });
          i = j;
        }
      }
      offset += line.length + 1;
    });
  }
  return { found, leaked, markers: actualBlocks.markers, falseNegatives, collateral, actual, expected: expected.text, missingInExpected };
}

// -- 2. labelled corpus: secretlint ---------------------------------------------------------------

interface SecretlintVerdict {
  readonly found: boolean[];
  readonly flaggedNegatives: boolean[];
  /** Reports that cover no positive and no look-alike. */
  readonly collateral: number;
  readonly ruleIds: Map<number, string[]>;
  readonly ms: number;
}

async function runSecretlint(corpus: LabelledCorpus, version: 'plain' | 'stream'): Promise<SecretlintVerdict> {
  const content = version === 'plain' ? corpus.plain : corpus.stream;
  const start = performance.now();
  const result = await lintSource({
    source: { content, filePath: `session-${version}.txt`, contentType: 'text' },
    options: { config: { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: recommendPreset }] }, noPhysicFilePath: true },
  });
  const ms = performance.now() - start;
  const covered = new Uint8Array(content.length + 1);
  const ranges = result.messages.map((m) => m.range);
  for (const [a, b] of ranges) covered.fill(1, a, b);
  const ruleIds = new Map<number, string[]>();
  const found = corpus.positives.map((p) => {
    const positions: number[][] = version === 'plain' ? p.plainSpans.map(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i)) : p.rawChars;
    const first = positions[0]?.[0] ?? -1;
    const last = positions[positions.length - 1]?.at(-1) ?? -1;
    const ids = result.messages.filter((m) => m.range[0] <= last && m.range[1] > first).map((m) => m.ruleId.replace('@secretlint/secretlint-rule-', ''));
    ruleIds.set(p.index, ids);
    return positions.length > 0 && positions.every((list) => list.every((i) => covered[i] === 1));
  });
  const negativeSpans = corpus.negatives.map((n) => (version === 'plain' ? n.plainSpans : n.rawSpans));
  const flaggedNegatives = negativeSpans.map((spans) => spans.some(([a, b]) => ranges.some(([x, y]) => x < b && y > a)));
  const labelled: [number, number][] = [
    ...corpus.positives.flatMap((p) => (version === 'plain' ? p.plainSpans : p.rawChars.map((list): [number, number] => [list[0]!, list[list.length - 1]! + 1]))),
    ...negativeSpans.flat(),
  ];
  const collateral = ranges.filter(([x, y]) => !labelled.some(([a, b]) => x < b && y > a)).length;
  return { found, flaggedNegatives, collateral, ruleIds, ms };
}

// -- 3. echo-off input through the real recorder ----------------------------------------------------

interface RecorderChecks {
  readonly secrets: number;
  readonly found: number;
  readonly markers: number;
  readonly prompts: number;
  readonly leaks: string[];
  /** Tokens typed at the shell prompt with echo on, key by key and pasted: found in output and input. */
  readonly typed: { readonly byKey: [number, number]; readonly pasted: [number, number]; readonly leaks: string[] };
}

async function measureEchoOff(): Promise<RecorderChecks> {
  const rnd = fakeRandom(99);
  const secrets = Array.from({ length: ECHO_OFF_SECRETS }, (_, i) =>
    i % 3 === 0 ? ['gh', 'p_', rnd(36)].join('') : i % 3 === 1 ? rnd(1, BASE62.slice(0, 26)) + rnd(13, BASE62 + '!#-_.') : `${rnd(6, BASE62)}-${rnd(6, BASE62)}-${rnd(6, BASE62)}`,
  );
  const steps: SessionStep[] = [{ waitFor: PROMPT }];
  secrets.forEach((secret, i) => {
    const typo = i % 4 === 3;
    if (i % 2 === 0) steps.push({ input: `read -rs -p 'Password: ' pw; echo; echo "got \${#pw}"\r`, waitFor: 'Password: ' });
    else steps.push({ input: `stty -echo; printf 'Token: '; read -r tok; stty echo; echo; echo "got \${#tok}"\r`, waitFor: 'Token: ' });
    const keys = [...secret];
    if (typo) keys.splice(4, 0, 'x', '\x7f');
    for (const key of keys) steps.push({ input: key, pauseMs: 2 });
    steps.push({ input: '\r', waitFor: 'got ' }, { waitFor: PROMPT });
  });
  // The same session, echo on: tokens typed at the prompt key by key (one read per echoed key), and pasted.
  const typedTokens = Array.from({ length: Math.max(2, ECHO_OFF_SECRETS / 2) }, () => ['gh', 'p_', rnd(36)].join(''));
  typedTokens.forEach((token, i) => {
    const line = `export GITHUB_TOKEN=${token}`;
    if (i % 2 === 0) for (const key of line) steps.push({ input: key, pauseMs: 3 });
    else steps.push({ input: line, pauseMs: 30 });
    steps.push({ input: '\r', waitFor: PROMPT });
  });
  steps.push({ input: 'exit\r' });
  const fixture = await RecorderFixture.start();
  try {
    const recorded = await fixture.record({ ...INTERACTIVE_BASH, steps, timeoutMs: 30_000 });
    const events = readRecording(recorded.bytes).events;
    const text = events.map((e) => e.data).join('');
    const markers = events.filter((e) => e.code === 'm' && e.data === 'input hidden: echo off').length;
    const leaks: string[] = [];
    let found = 0;
    for (const secret of secrets) {
      // A ghp_ token's prefix is public (and shared with the echo-on tokens below): judge its body.
      const leak = survives(secret.replace(/^ghp_/, ''), text);
      if (leak === undefined) found++;
      else leaks.push(`${secret.slice(0, 4)}…: "${leak}" survives`);
    }
    const output = events.filter((e) => e.code === 'o').map((e) => e.data).join('');
    const input = events.filter((e) => e.code === 'i').map((e) => e.data).join('');
    const byKey: [number, number] = [0, 0];
    const pasted: [number, number] = [0, 0];
    const typedLeaks: string[] = [];
    typedTokens.forEach((token, i) => {
      const tally = i % 2 === 0 ? byKey : pasted;
      tally[1]++;
      const body = token.replace(/^ghp_/, '');
      const leak = survives(body, output) ?? survives(body, input);
      if (leak === undefined) tally[0]++;
      else typedLeaks.push(`${i % 2 === 0 ? 'key by key' : 'pasted'}: "${leak}" survives in the ${survives(body, output) !== undefined ? 'output (echo)' : 'input'}`);
    });
    return { secrets: secrets.length, found, markers, prompts: secrets.length, leaks, typed: { byKey, pasted, leaks: typedLeaks } };
  } finally {
    await fixture.close();
  }
}

// -- report -----------------------------------------------------------------------------------------

const pct = (n: number, d: number): string => (d === 0 ? '—' : `${((100 * n) / d).toFixed(1)}%`);
const ratio = (n: number, d: number): number => (d === 0 ? 1 : n / d);

async function main(): Promise<void> {
  const report = new Report('redaction', `redaction: speed and recall/precision of the record path's redactor${quick ? ' (--quick)' : ''}`, [
    `(1) throughput: ${mb(THROUGHPUT_BYTES, 0)} of mixed terminal output in ${PTY_READ_BYTES}-byte reads → TextDecoder → sessionRedactor().output() (built-in rules);`,
    '    baselines on the same reads: TextDecoder + pass-through redactor, and scanText per read (the scanner alone). Best of repeats.',
    '    The recorder end to end (≥ 0.9× the bypass host) is `npm run bench -- throughput` (its recorder redacts): not repeated here.',
    '(2) labelled corpus (bench/secret-corpus.ts), terminal-transformed; the session redactor with the corpus\'s known secrets; judged on a',
    '    rendering of the recorded output: found = no 5-char substring survives; a look-alike or any other cell masked = false positive.',
    '    Baseline: secretlint (recommended preset), a file scanner, run on the plain-text version and on the raw stream as one string.',
    '(3) echo-off: a real recorder + bash, secrets typed at `read -s` / `stty -echo` prompts; found = no 5-char substring in the recording.',
  ]);

  console.log('--- (1) throughput');
  measureThroughput(report);

  console.log('\n--- (2) labelled corpus');
  const corpus = buildLabelledCorpus(LABELLED);
  console.log(`  ${corpus.positives.length} secrets, ${corpus.negatives.length} look-alikes, ${corpus.knownSecrets.length} known secrets, ${corpus.blocks} blocks, ${mb(Buffer.byteLength(corpus.stream))} stream`);
  const ours = runOurs(corpus);
  const slPlain = await runSecretlint(corpus, 'plain');
  const slStream = await runSecretlint(corpus, 'stream');
  console.log(`  secretlint: ${(slPlain.ms / 1000).toFixed(1)} s on the plain text, ${(slStream.ms / 1000).toFixed(1)} s on the stream`);
  if (ours.missingInExpected > 0) console.log(`  WARNING: ${ours.missingInExpected} labelled strings are not visible in the unredacted rendering (a corpus bug)`);

  // Per kind table.
  const kinds = [...new Set(corpus.positives.map((p) => `${p.category}\t${p.kind}`))].sort();
  console.log('');
  console.log(`  ${'category'.padEnd(11)} ${'kind'.padEnd(22)} ${'n'.padStart(4)}  ${'ours'.padStart(6)}  ${'secretlint plain'.padStart(16)}  ${'secretlint stream'.padStart(17)}`);
  for (const key of kinds) {
    const [category, kind] = key.split('\t') as [string, string];
    const list = corpus.positives.filter((p) => p.kind === kind);
    const count = (found: readonly boolean[]): number => list.filter((p) => found[p.index]).length;
    console.log(`  ${category.padEnd(11)} ${kind.padEnd(22)} ${String(list.length).padStart(4)}  ${pct(count(ours.found), list.length).padStart(6)}  ${pct(count(slPlain.found), list.length).padStart(16)}  ${pct(count(slStream.found), list.length).padStart(17)}`);
  }
  console.log('');
  console.log('  recall by terminal transform (ours; a secret may have several):');
  for (const transform of ['split', 'sgr', 'typed', 'keys', 'pause', 'backspace', 'wrapped'] as const) {
    const list = corpus.positives.filter((p) => p.transforms.includes(transform));
    const n = list.filter((p) => ours.found[p.index]).length;
    console.log(`    ${transform.padEnd(10)} ${String(list.length).padStart(5)}  ours ${pct(n, list.length).padStart(6)}  secretlint stream ${pct(list.filter((p) => slStream.found[p.index]).length, list.length).padStart(6)}`);
  }
  const plainOnly = corpus.positives.filter((p) => p.transforms.length === 0);
  console.log(`    ${'none'.padEnd(10)} ${String(plainOnly.length).padStart(5)}  ours ${pct(plainOnly.filter((p) => ours.found[p.index]).length, plainOnly.length).padStart(6)}`);

  console.log('\n  look-alikes masked (false positives), by kind:');
  const negKinds = [...new Set(corpus.negatives.map((n) => n.kind))].sort();
  for (const kind of negKinds) {
    const list = corpus.negatives.filter((n) => n.kind === kind);
    const c = (flags: readonly boolean[]): number => list.filter((n) => flags[n.index]).length;
    console.log(`    ${kind.padEnd(20)} ${String(list.length).padStart(4)}  ours ${String(c(ours.falseNegatives)).padStart(4)}  secretlint plain ${String(c(slPlain.flaggedNegatives)).padStart(3)}  stream ${String(c(slStream.flaggedNegatives)).padStart(3)}`);
  }

  // Misses.
  const compiled = compileRules(BUILTIN_RULES);
  const misses = corpus.positives.filter((p) => !ours.found[p.index]);
  console.log(`\n  misses (ours): ${misses.length}`);
  const byKind = new Map<string, Positive[]>();
  for (const p of misses) byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), p]);
  for (const [kind, list] of byKind) {
    console.log(`    ${kind}: ${list.length} of ${corpus.positives.filter((p) => p.kind === kind).length}`);
    for (const p of list.slice(0, 4)) {
      const scanned = [...new Set(scanText(ours.expected.get(p.block) ?? '', compiled).map((s) => s.ruleId))];
      const line = (ours.actual.get(p.block) ?? '').split('\n').find((l) => ours.leaked[p.index] !== undefined && l.includes(ours.leaked[p.index]!.slice(0, 5))) ?? '';
      console.log(`      #${p.index} [${p.transforms.join(',') || 'plain'}] expected ${p.expected[0]}; stream markers in block: ${(ours.markers.get(p.block) ?? []).join(',') || 'none'}; scanText on the rendered block: ${scanned.join(',') || 'none'}; survives "${ours.leaked[p.index]}"`);
      if (line !== '') console.log(`         ${JSON.stringify(line.slice(0, 160))}`);
    }
  }
  const fpList = corpus.negatives.filter((n) => ours.falseNegatives[n.index]);
  console.log(`\n  false positives (ours): ${fpList.length} look-alikes masked, ${ours.collateral.length} other masks`);
  for (const n of fpList.slice(0, 12)) {
    const line = (ours.actual.get(n.block) ?? '').split('\n').find((l) => l.includes('*')) ?? '';
    console.log(`    ${n.kind}: ${JSON.stringify(n.value)}; markers ${(ours.markers.get(n.block) ?? []).join(',') || 'none'}; recorded ${JSON.stringify(line.slice(0, 140))}`);
  }
  for (const c of ours.collateral.slice(0, 12)) console.log(`    other mask in block ${c.block} (markers ${c.rules.join(',') || 'none'}): ${JSON.stringify(c.text.slice(0, 140))}`);

  // Summary figures.
  const recall = (filter: (p: Positive) => boolean, found: readonly boolean[]): [number, number] => {
    const list = corpus.positives.filter(filter);
    return [list.filter((p) => found[p.index]).length, list.length];
  };
  const precision = (found: readonly boolean[], flagged: readonly boolean[], collateral: number): [number, number] => {
    const tp = found.filter(Boolean).length;
    const fp = flagged.filter(Boolean).length + collateral;
    return [tp, tp + fp];
  };
  const all = (): boolean => true;
  const cat = (c: Category) => (p: Positive): boolean => p.category === c;
  const fmt = ([n, d]: [number, number]): string => `${ratio(n, d).toFixed(3)} (${n}/${d})`;
  const sl = (f: (p: Positive) => boolean): string => `${ratio(...recall(f, slPlain.found)).toFixed(3)} / ${ratio(...recall(f, slStream.found)).toFixed(3)} (secretlint plain / stream)`;
  const oursAll = recall(all, ours.found);
  const oursProvider = recall(cat('provider'), ours.found);
  const oursKnown = recall(cat('known'), ours.found);
  const oursPrecision = precision(ours.found, ours.falseNegatives, ours.collateral.length);
  report.goal('recall, all labelled secrets', sl(all), fmt(oursAll), '—', '≥ 0.970', ratio(...oursAll) >= 0.97);
  report.goal('recall, provider-prefixed tokens', sl(cat('provider')), fmt(oursProvider), '—', '≥ 0.995', ratio(...oursProvider) >= 0.995);
  for (const c of ['structured', 'context', 'generic'] as const) report.info(`  recall, ${c}`, sl(cat(c)), fmt(recall(cat(c), ours.found)));
  report.goal('recall, known secrets (verbatim and encoded)', '— (secretlint has no known values)', fmt(oursKnown), '—', '= 1', oursKnown[0] === oursKnown[1]);
  const slP = precision(slPlain.found, slPlain.flaggedNegatives, slPlain.collateral);
  const slS = precision(slStream.found, slStream.flaggedNegatives, slStream.collateral);
  report.goal('precision (TP / (TP + masked look-alikes + other masks))', `${ratio(...slP).toFixed(3)} / ${ratio(...slS).toFixed(3)} (secretlint plain / stream)`, fmt(oursPrecision), '—', '≥ 0.900', ratio(...oursPrecision) >= 0.9);
  const negMasked = ours.falseNegatives.filter(Boolean).length;
  report.info('  look-alikes masked', `${slPlain.flaggedNegatives.filter(Boolean).length} / ${slStream.flaggedNegatives.filter(Boolean).length} (secretlint)`, `${negMasked} of ${corpus.negatives.length} (${pct(negMasked, corpus.negatives.length)})`);

  console.log('\n--- (3) echo-off input through the recorder');
  const echo = await measureEchoOff();
  console.log(`  ${echo.secrets} secrets typed at ${echo.prompts} prompts; ${echo.markers} "input hidden: echo off" markers; then ${echo.typed.byKey[1] + echo.typed.pasted[1]} tokens typed at the prompt with echo on`);
  for (const leak of echo.leaks) console.log(`    LEAK ${leak}`);
  report.goal('recall, echo-off input (real recorder, bash)', '—', fmt([echo.found, echo.secrets]), `${echo.markers} markers / ${echo.prompts} prompts`, '= 1', echo.found === echo.secrets);
  for (const leak of echo.typed.leaks) console.log(`    LEAK (echo on, typed at the prompt) ${leak}`);
  report.info('  real recorder, echo on: ghp_ token typed at the prompt key by key', '—', fmt(echo.typed.byKey));
  report.info('  real recorder, echo on: ghp_ token pasted at the prompt', '—', fmt(echo.typed.pasted));

  console.log('');
  report.finish([
    'MB/s here is decimal (10^6 bytes) of pty output; per core = main-thread CPU time (the redactor runs on one thread).',
    'secretlint is not a streaming tool: it sees the whole text at once, so the stream run gives it every secret whole (no chunk boundaries, no idle releases); only the escape sequences, CRLF, backspaces and wraps are in its way.',
    'precision counts every masked look-alike and every other masked run as one false positive; its value depends on how many look-alikes the corpus holds, so the look-alike rate is printed too.',
  ]);
}

await main();
