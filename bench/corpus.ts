/**
 * What the benchmarks feed through a pty: realistic terminal text, made once
 * per run in a temporary folder, and the command that streams an exact number
 * of bytes of it (the file repeated as often as needed).
 *
 * The text mixes what admins actually see: log lines with ANSI colours, `ls -l`
 * listings, build progress, JSON, box drawing, and non-ASCII UTF-8 (accents,
 * CJK, the odd emoji). It is generated from a fixed seed, so every run streams
 * the same bytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** 64 MiB of distinct text: larger than any pty or IPC buffer, small enough to stay in the page cache. */
export const CORPUS_BYTES = 64 * 1024 * 1024;

/** mulberry32: a tiny deterministic PRNG, so the corpus is the same in every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ESC = '\x1b';
const RESET = `${ESC}[0m`;
const WORDS = [
  'request', 'session', 'upstream', 'connection', 'handshake', 'certificate', 'replica', 'backup', 'deploy', 'rollout',
  'postgres', 'nginx', 'kubelet', 'systemd', 'worker', 'scheduler', 'cache', 'index', 'volume', 'snapshot',
];
const INTL = [
  'Größe', 'terminé', 'café', 'naïve', 'Ελληνικά', 'Русский', '日本語のテキスト', '中文字符', '한국어', 'ünïcödé',
  '✓ ok', '✗ failed', '→', '…', '—', '°C', '€', '🚀', '📦', '⚠️',
];
const LEVELS = [
  ['INFO', '32'],
  ['WARN', '33'],
  ['ERROR', '31'],
  ['DEBUG', '36'],
] as const;
const FILES = ['main.go', 'server.ts', 'Makefile', 'README.md', 'config.yaml', 'id_ed25519.pub', 'données.csv', 'backup-2024.tar.gz'];

export function generateCorpus(bytes: number, seed = 42): Buffer {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const int = (max: number): number => Math.floor(random() * max);
  const hex = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[int(16)];
    return s;
  };
  const words = (n: number): string => Array.from({ length: n }, () => (random() < 0.08 ? pick(INTL) : pick(WORDS))).join(' ');
  const pad2 = (n: number): string => String(n).padStart(2, '0');

  const line = (): string => {
    const kind = random();
    if (kind < 0.4) {
      const [level, colour] = pick(LEVELS);
      const time = `2024-05-${pad2(1 + int(28))}T${pad2(int(24))}:${pad2(int(60))}:${pad2(int(60))}.${String(int(1000)).padStart(3, '0')}Z`;
      return `${ESC}[2m${time}${RESET} ${ESC}[${colour}m${level.padEnd(5)}${RESET} ${pick(WORDS)}[${1000 + int(9000)}]: ${words(3 + int(10))} id=${hex(8)} took=${int(900)}ms`;
    }
    if (kind < 0.6) {
      const name = pick(FILES);
      const dir = random() < 0.25;
      const coloured = dir ? `${ESC}[01;34m${name.replace(/\..*$/, '')}${RESET}` : name.endsWith('.gz') ? `${ESC}[01;31m${name}${RESET}` : name;
      return `${dir ? 'd' : '-'}rw-r--r-- ${1 + int(3)} admin staff ${String(int(10_000_000)).padStart(9)} May ${String(1 + int(28)).padStart(2)} ${pad2(int(24))}:${pad2(int(60))} ${coloured}`;
    }
    if (kind < 0.72) {
      const pct = int(101);
      return `[${String(pct).padStart(3)}%] ${ESC}[32mBuilding CXX object${RESET} src/${pick(WORDS)}/CMakeFiles/${pick(WORDS)}.dir/${pick(WORDS)}_${hex(4)}.cc.o`;
    }
    if (kind < 0.84) {
      return `{"level":"${pick(LEVELS)[0].toLowerCase()}","msg":"${words(2 + int(6))}","trace":"${hex(16)}","latency_ms":${(random() * 100).toFixed(3)}}`;
    }
    if (kind < 0.92) {
      const cells = Array.from({ length: 3 + int(4) }, () => ` ${pick(random() < 0.3 ? INTL : WORDS).padEnd(12).slice(0, 12)} `);
      return `│${cells.join('│')}│`;
    }
    if (kind < 0.96) return '─'.repeat(20 + int(60));
    return `${ESC}[1m$${RESET} ${pick(['kubectl get pods -A', 'journalctl -u nginx -f', 'ls -la /var/log', 'psql -c "select 1"', 'tail -n 200 app.log'])}`;
  };

  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const text = line() + '\n';
    parts.push(text);
    size += Buffer.byteLength(text, 'utf8');
  }
  return Buffer.from(parts.join(''), 'utf8').subarray(0, bytes);
}

export interface Workspace {
  /** A fresh folder under the system temp folder. */
  readonly dir: string;
  /** The corpus file inside it. */
  readonly corpus: string;
  /** Deletes the folder (idempotent). */
  remove(): void;
}

/**
 * Creates a temp folder holding the corpus, and deletes it when the process
 * ends, however it ends (normal exit, Ctrl-C, SIGTERM from the runner).
 */
export function createWorkspace(name: string, corpusBytes = CORPUS_BYTES): Workspace {
  const dir = mkdtempSync(join(tmpdir(), `custody-bench-${name}-`));
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, generateCorpus(corpusBytes));
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      remove();
      process.exit(130);
    });
  }
  return { dir, corpus, remove };
}

/**
 * A command that writes exactly `bytes` bytes of the corpus to its stdout
 * (the pty), repeating the file as needed. `head` ends the loop: when it has
 * written enough, `cat` gets SIGPIPE and the loop stops.
 */
export function streamCommand(corpus: string, bytes: number): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', 'while cat "$0"; do :; done | head -c "$1"', corpus, String(bytes)] };
}

/** A small, fixed environment for the pty, the same for baseline and candidate. */
export function ptyEnv(): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/tmp',
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
  };
}

/** Bytes the pty delivers for `bytes` written: the line discipline turns each "\n" into "\r\n" (ONLCR). */
export function countNewlines(data: Uint8Array): number {
  let n = 0;
  for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, i + 1)) n++;
  return n;
}
