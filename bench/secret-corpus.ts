/**
 * The labelled corpus of the redaction benchmark (bench/redaction.ts): terminal sessions as a pty
 * delivers them, with secrets (positives) and secret look-alikes (negatives) at known places.
 *
 * A session is a run of blocks. Every block starts with a prompt that carries its number
 * (`admin@bastion-2:~/ops (17)$ `), then a command typed at it (echoed key by key, as readline
 * does) and the command's output. Between blocks sits filler: ls, git log, compiler, kubectl, npm
 * and docker output with colours. Each labelled block holds one positive or one negative; the
 * judge (bench/redaction.ts) splits the rendered screen at the prompts and checks each block.
 *
 * Terminal transforms, chosen per secret from a seeded generator and recorded with it:
 * - `crlf`: every line ends in "\r\n" (the pty's ONLCR), always;
 * - `split`: one to three chunk boundaries forced inside the secret (the reader cuts there);
 * - `sgr`: SGR codes inside the token (grep --color on its prefix, a highlighter's colour change);
 * - `typed`: the secret is typed or pasted at the prompt: echoed, and sent as input keys;
 * - `keys`: typed key by key: every echoed key is a read of its own (otherwise pasted: one read);
 * - `pause`: typed key by key with a pause inside the secret long enough for the record path's
 *   idle release (the typist stopped for more than 200 ms);
 * - `backspace`: a typo inside a typed secret, corrected with DEL (echo `\b \b` or `\b\x1b[K`);
 * - `wrapped`: the secret crosses the right margin (80 columns): readline's ` \r` wrap when
 *   typed, the terminal's own autowrap in output.
 *
 * Two versions are built side by side: `stream` (what the pty delivers) and `plain` (the same
 * text as a file would hold it: "\n", no escape sequences, the command as finally typed), with
 * every labelled string's place in both, so that a file scanner can be run on either.
 *
 * Everything is generated from a seed (no secret-looking literal sits in this source: prefixes
 * are joined from parts, as in shared/redaction/rules/samples.test-support.ts).
 */
import { BASE32, BASE62, BASE64, BASE64URL, fakeRandom, HEX } from '../shared/redaction/rules/samples.test-support.ts';

export const COLS = 80;
export const PROMPT_RE = /^admin@bastion-2:[^ \n]* \((\d+)\)\$ /;

export type Category = 'provider' | 'structured' | 'context' | 'generic' | 'known';
export type Transform = 'split' | 'sgr' | 'typed' | 'keys' | 'pause' | 'backspace' | 'wrapped';

export interface Positive {
  readonly index: number;
  readonly kind: string;
  readonly category: Category;
  /** Rule ids that should find it (the first is the precise one). */
  readonly expected: readonly string[];
  /** Strings that must not survive (a private key: its base64 lines). */
  readonly parts: readonly string[];
  readonly transforms: Transform[];
  block: number;
  /** Per part: [start, end) in `plain`. */
  readonly plainSpans: [number, number][];
  /** Per part: the raw positions in `stream` of each of its characters (the last echo of each). */
  readonly rawChars: number[][];
}

export interface Negative {
  readonly index: number;
  readonly kind: string;
  readonly value: string;
  block: number;
  readonly plainSpans: [number, number][];
  readonly rawSpans: [number, number][];
}

export interface KeyEvent {
  readonly at: number;
  readonly text: string;
  readonly block: number;
}

export interface LabelledCorpus {
  /** Output as the pty delivers it. */
  readonly stream: string;
  /** Chunk boundaries forced by the transforms (indices into `stream`, ascending). */
  readonly cuts: readonly number[];
  /** Where output goes quiet (a prompt waiting, a typist pausing): the record path calls idle() there. */
  readonly idles: readonly number[];
  /** The same session as plain text. */
  readonly plain: string;
  /**
   * Keys as the recorder receives them, each at the place in `stream` where its echo starts: one
   * event per key when typed, one for the whole line when pasted (then Enter on its own).
   */
  readonly keys: readonly KeyEvent[];
  readonly blocks: number;
  readonly positives: readonly Positive[];
  readonly negatives: readonly Negative[];
  /** The values the app injected (passed to sessionRedactor as known secrets). */
  readonly knownSecrets: readonly string[];
}

// -- generators -----------------------------------------------------------------------------

type Rnd = ReturnType<typeof fakeRandom>;

/** A uniform number generator beside the string generator (xorshift, own seed). */
function numbers(seed: number): (n: number) => number {
  let state = seed >>> 0 || 1;
  return (n) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
}

const PASSWORD_CHARS = BASE62 + '!#^-_+=.~';
const ESC = '\x1b';
const RESET = `${ESC}[0m`;
const join = (...parts: string[]): string => parts.join('');
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const b64url = (text: string): string => b64(text).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

interface SecretKind {
  readonly kind: string;
  readonly category: Category;
  readonly expected: readonly string[];
  /** An env-style name for the contexts. */
  readonly name: string;
  readonly make: (rnd: Rnd, int: (n: number) => number) => string;
  /** Contexts it may appear in (default: all token contexts). */
  readonly contexts?: readonly ContextName[];
}

type ContextName = 'bare' | 'env-grep' | 'export' | 'curl-header' | 'json' | 'yaml' | 'log' | 'docker-env';

const TOKEN_CONTEXTS: readonly ContextName[] = ['bare', 'env-grep', 'export', 'curl-header', 'json', 'yaml', 'log', 'docker-env'];

const password = (rnd: Rnd, int: (n: number) => number): string => rnd(1, BASE62.slice(0, 52)) + rnd(11 + int(9), PASSWORD_CHARS);

export const PROVIDER_KINDS: readonly SecretKind[] = [
  { kind: 'aws-access-key-id', category: 'provider', expected: ['aws-access-key-id'], name: 'AWS_ACCESS_KEY_ID', make: (r) => join('AK', 'IA', r(16, BASE32)) },
  { kind: 'aws-temporary-key-id', category: 'provider', expected: ['aws-access-key-id'], name: 'AWS_ACCESS_KEY_ID', make: (r) => join('AS', 'IA', r(16, BASE32)) },
  { kind: 'github-pat', category: 'provider', expected: ['github-token'], name: 'GITHUB_TOKEN', make: (r) => join('gh', 'p_', r(36)) },
  { kind: 'github-app', category: 'provider', expected: ['github-token'], name: 'GH_TOKEN', make: (r, i) => join('gh', ['o', 's', 'u'][i(3)]!, '_', r(36)) },
  { kind: 'github-fine-grained', category: 'provider', expected: ['github-fine-grained-pat'], name: 'GH_TOKEN', make: (r) => join('github', '_pat_', r(22), '_', r(59)) },
  { kind: 'gitlab-pat', category: 'provider', expected: ['gitlab-token'], name: 'GITLAB_TOKEN', make: (r) => join('gl', 'pat-', r(20)) },
  { kind: 'gitlab-runner', category: 'provider', expected: ['gitlab-token'], name: 'CI_RUNNER_TOKEN', make: (r) => join('gl', 'rt-', r(26)) },
  { kind: 'slack-bot', category: 'provider', expected: ['slack-token'], name: 'SLACK_BOT_TOKEN', make: (r) => join('xo', 'xb-', r(12, '0123456789'), '-', r(13, '0123456789'), '-', r(24)) },
  { kind: 'slack-user', category: 'provider', expected: ['slack-token'], name: 'SLACK_TOKEN', make: (r) => join('xo', 'xp-', r(12, '0123456789'), '-', r(12, '0123456789'), '-', r(13, '0123456789'), '-', r(32, HEX)) },
  { kind: 'stripe-live', category: 'provider', expected: ['stripe-key'], name: 'STRIPE_SECRET_KEY', make: (r) => join('sk', '_live_', r(24)) },
  { kind: 'stripe-restricted', category: 'provider', expected: ['stripe-key'], name: 'STRIPE_KEY', make: (r) => join('rk', '_live_', r(99)) },
  { kind: 'google-api-key', category: 'provider', expected: ['google-api-key'], name: 'GOOGLE_API_KEY', make: (r) => join('AI', 'za', 'Sy', r(33, BASE64URL)) },
  { kind: 'npm-token', category: 'provider', expected: ['npm-token'], name: 'NPM_TOKEN', make: (r) => join('np', 'm_', r(36)) },
  { kind: 'pypi-token', category: 'provider', expected: ['pypi-token'], name: 'TWINE_PASSWORD', make: (r) => join('py', 'pi-', 'AgEIcHlwaS5vcmc', r(120, BASE64URL)) },
  { kind: 'dockerhub-pat', category: 'provider', expected: ['dockerhub-pat'], name: 'DOCKER_PAT', make: (r) => join('dc', 'kr_pat_', r(27, BASE64URL)) },
  { kind: 'anthropic-key', category: 'provider', expected: ['anthropic-api-key'], name: 'ANTHROPIC_API_KEY', make: (r) => join('s', 'k-', 'ant-', 'api03-', r(93, BASE64URL), 'AA') },
  { kind: 'openai-project', category: 'provider', expected: ['openai-api-key'], name: 'OPENAI_API_KEY', make: (r) => join('s', 'k-', 'proj-', r(64, BASE62 + '_-').replace(/^[-_]/, 'Q'), r(8)) },
  { kind: 'openai-legacy', category: 'provider', expected: ['openai-api-key'], name: 'OPENAI_API_KEY', make: (r) => join('s', 'k-', r(20), 'T3Blbk', 'FJ', r(20)) },
  { kind: 'vault-service', category: 'provider', expected: ['vault-token'], name: 'VAULT_TOKEN', make: (r) => join('hv', 's.', r(90, BASE64URL).replace(/^[-_]/, 'C')) },
  { kind: 'sendgrid', category: 'provider', expected: ['sendgrid-api-key'], name: 'SENDGRID_API_KEY', make: (r) => join('S', 'G.', r(22, BASE64URL), '.', r(43, BASE64URL)).replace(/[-_](?=\.|$)/g, 'x') },
  { kind: 'shopify', category: 'provider', expected: ['shopify-token'], name: 'SHOPIFY_ACCESS_TOKEN', make: (r) => join('shp', 'at_', r(32, HEX)) },
  { kind: 'twilio-api-key', category: 'provider', expected: ['twilio-key'], name: 'TWILIO_API_KEY', make: (r) => join('S', 'K', r(32, HEX)) },
];

/** Passwords and keys known only by their context. */
export const CONTEXT_KINDS = [
  'url-password', 'env-file', 'yaml-password', 'json-password', 'single-quoted', 'cli-flag', 'mysql-p', 'docker-login-p', 'curl-u',
  'authorization-basic', 'authorization-bearer', 'api-key-header', 'k8s-secret-yaml', 'k8s-secret-json', 'aws-secret-key',
  'aws-session-token', 'azure-account-key', 'azure-sas', 'slack-webhook',
] as const;
export const STRUCTURED_KINDS = ['rsa-pem', 'openssh', 'pkcs8', 'gcp-json', 'jwt-bare', 'jwt-bearer'] as const;
export const GENERIC_KINDS = ['random-api-key', 'random-base64-key'] as const;
export const KNOWN_KINDS = ['known-verbatim', 'known-base64', 'known-base64-inner', 'known-percent', 'known-hex', 'known-json'] as const;
export const NEGATIVE_KINDS = [
  'git-sha', 'uuid', 'docker-digest', 'npm-integrity', 'base64-text', 'hostname', 'pod-name', 'url-no-password', 'container-id',
  'aws-resource-id', 'go-sum', 'pip-hash', 'camel-identifier', 'keyword-placeholder', 'k8s-configmap', 'build-id',
] as const;

// -- the block writer ---------------------------------------------------------------------

interface Mark {
  readonly text: string;
  /** A positive's part, or a negative. */
  readonly positive?: Positive;
  readonly negative?: Negative;
  readonly sgr?: boolean;
  readonly split?: boolean;
  readonly typo?: boolean;
}
type Seg = string | Mark;

class Writer {
  readonly raw: string[] = [];
  readonly plain: string[] = [];
  rawLength = 0;
  plainLength = 0;
  readonly cuts: number[] = [];
  readonly idles: number[] = [];
  readonly keys: KeyEvent[] = [];
  block = -1;
  readonly #int: (n: number) => number;
  readonly #rnd: Rnd;

  constructor(int: (n: number) => number, rnd: Rnd) {
    this.#int = int;
    this.#rnd = rnd;
  }

  #raw(text: string): void {
    this.raw.push(text);
    this.rawLength += text.length;
  }

  #plain(text: string): void {
    this.plain.push(text);
    this.plainLength += text.length;
  }

  prompt(dir = '~/ops'): void {
    this.block++;
    this.#raw(`${ESC}[01;32madmin@bastion-2${RESET}:${ESC}[01;34m${dir}${RESET} (${this.block})$ `);
    this.#plain(`admin@bastion-2:${dir} (${this.block})$ `);
    this.idles.push(this.rawLength);
  }

  /** A command typed at the prompt: echoed key by key (with readline's ` \r` at the margin), and sent as keys. */
  typed(segs: readonly Seg[], promptWidth: number): void {
    let col = promptWidth % COLS;
    const byKey = this.#int(2) === 0;
    const pasteAt = this.rawLength;
    let paste = '';
    const key = (text: string): void => {
      if (byKey) this.keys.push({ at: this.rawLength, text, block: this.block });
      else paste += text;
    };
    const echo = (char: string): void => {
      this.#raw(char);
      col++;
      if (col === COLS) {
        this.#raw(' \r');
        col = 0;
      }
    };
    for (const seg of segs) {
      const mark = typeof seg === 'string' ? undefined : seg;
      const text = typeof seg === 'string' ? seg : seg.text;
      const positions: number[] = [];
      const plainStart = this.plainLength;
      let typoAt = -1;
      const pauseAt = byKey && mark?.positive !== undefined && this.#int(4) === 0 ? 1 + this.#int(text.length - 1) : -1;
      if (mark?.positive !== undefined && byKey) mark.positive.transforms.push(pauseAt >= 0 ? 'pause' : 'keys');
      if (mark?.typo === true && byKey && text.length > 6) {
        // A typo away from the margin (readline moves the cursor across rows with other sequences).
        for (let tries = 0; tries < 8 && typoAt < 0; tries++) {
          const at = 2 + this.#int(text.length - 4);
          const c = (col + at) % COLS;
          if (c > 2 && c < COLS - 3) typoAt = at;
        }
      }
      for (let i = 0; i < text.length; i++) {
        if (i === typoAt) {
          const wrong = this.#rnd(1, 'abcdefghijkmnopqrstuvwxyz');
          key(wrong);
          echo(wrong);
          key('\x7f');
          this.#raw(this.#int(2) === 0 ? '\b \b' : `\b${ESC}[K`);
          col--;
        }
        if (i === pauseAt) this.idles.push(this.rawLength);
        if (byKey || (mark?.split === true && i > 0 && this.#int(Math.max(2, Math.floor(text.length / 3))) === 0)) this.cuts.push(this.rawLength);
        positions.push(this.rawLength);
        key(text[i]!);
        echo(text[i]!);
      }
      this.#plain(text);
      this.#record(mark, plainStart, positions);
    }
    if (!byKey) this.keys.push({ at: pasteAt, text: paste, block: this.block });
    this.keys.push({ at: this.rawLength, text: '\r', block: this.block });
    this.#raw('\r\n');
    this.#plain('\n');
  }

  /** One line of output. */
  line(segs: readonly Seg[]): void {
    for (const seg of segs) {
      if (typeof seg === 'string') {
        this.#raw(seg.replaceAll('\n', '\r\n'));
        // eslint-disable-next-line no-control-regex -- removing escape sequences
        this.#plain(seg.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replaceAll('\r', ''));
        continue;
      }
      const plainStart = this.plainLength;
      const positions: number[] = [];
      const sgrAt = new Set<number>();
      if (seg.sgr === true) {
        sgrAt.add(1 + this.#int(Math.min(8, seg.text.length - 2)));
        if (this.#int(2) === 0) sgrAt.add(2 + this.#int(seg.text.length - 3));
      }
      let open = false;
      for (let i = 0; i < seg.text.length; i++) {
        if (sgrAt.has(i)) {
          // grep --color style: the first piece highlighted, the rest plain; or a colour change.
          this.#raw(open ? `${ESC}[m` : i < 9 ? `${ESC}[01;31m` : `${ESC}[0;33m`);
          open = !open;
        }
        if (seg.split === true && i > 0 && this.#int(Math.max(2, Math.floor(seg.text.length / 3))) === 0) this.cuts.push(this.rawLength);
        const char = seg.text[i]!;
        if (char === '\n') {
          this.#raw('\r\n');
          continue;
        }
        positions.push(this.rawLength);
        this.#raw(char);
      }
      if (open) this.#raw(`${ESC}[m`);
      this.#plain(seg.text);
      this.#record(seg, plainStart, positions);
    }
    this.#raw('\r\n');
    this.#plain('\n');
  }

  #record(mark: Mark | undefined, plainStart: number, positions: number[]): void {
    if (mark?.positive !== undefined) {
      mark.positive.block = this.block;
      // A private key's parts are its lines: split the positions the same way.
      const text = mark.text;
      let offset = 0;
      let p = 0;
      for (const line of text.split('\n')) {
        if (line.length >= 5 && mark.positive.parts.includes(line)) {
          mark.positive.plainSpans.push([plainStart + offset, plainStart + offset + line.length]);
          mark.positive.rawChars.push(positions.slice(p, p + line.length));
        }
        offset += line.length + 1;
        p += line.length;
      }
    }
    if (mark?.negative !== undefined) {
      mark.negative.block = this.block;
      mark.negative.plainSpans.push([plainStart, plainStart + mark.text.length]);
      mark.negative.rawSpans.push([positions[0]!, positions[positions.length - 1]! + 1]);
    }
  }
}

// -- filler ---------------------------------------------------------------------------------

const WORDS = ['request', 'session', 'upstream', 'replica', 'backup', 'deploy', 'rollout', 'postgres', 'nginx', 'kubelet', 'worker', 'scheduler', 'cache', 'index', 'volume'];
const FILES = ['main.go', 'server.ts', 'Makefile', 'README.md', 'config.yaml', 'id_ed25519.pub', 'données.csv', 'backup-2024.tar.gz', 'vendor', 'node_modules'];
const AUTHORS = ['Ana Lima <ana@example.com>', 'Jörg Weiß <jw@example.org>', 'li.wei <li.wei@example.net>', 'dependabot[bot] <support@github.com>'];

function fillerLine(rnd: Rnd, int: (n: number) => number): string {
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  const pad2 = (n: number): string => String(n).padStart(2, '0');
  const kind = int(100);
  if (kind < 18) {
    const name = pick(FILES);
    const dir = !name.includes('.');
    return `${dir ? 'd' : '-'}rw-r--r-- ${1 + int(3)} admin staff ${String(int(10_000_000)).padStart(9)} May ${String(1 + int(28)).padStart(2)} ${pad2(int(24))}:${pad2(int(60))} ${dir ? `${ESC}[01;34m${name}${RESET}` : name}`;
  }
  if (kind < 30) return `${ESC}[33m${rnd(7, HEX)}${RESET} ${pick(['fix', 'feat', 'chore', 'refactor'])}(${pick(WORDS)}): ${pick(WORDS)} ${pick(WORDS)} when ${pick(WORDS)} is ${pick(['empty', 'stale', 'missing'])}`;
  if (kind < 36) return `${ESC}[33mcommit ${rnd(40, HEX)}${RESET}\nAuthor: ${pick(AUTHORS)}\nDate:   Tue May ${1 + int(28)} ${pad2(int(24))}:${pad2(int(60))}:12 2024 +0200`;
  if (kind < 48) {
    const file = `src/${pick(WORDS)}/${pick(WORDS)}.c`;
    return `${ESC}[01m${file}:${1 + int(900)}:${1 + int(60)}:${RESET} ${ESC}[01;35mwarning: ${RESET}unused variable '${ESC}[01m${pick(WORDS)}_${int(9)}${RESET}' [${ESC}[01;35m-Wunused-variable${RESET}]`;
  }
  if (kind < 54) return `[${String(int(101)).padStart(3)}%] ${ESC}[32mBuilding CXX object src/${pick(WORDS)}/CMakeFiles/${pick(WORDS)}.dir/${pick(WORDS)}.cc.o${RESET}`;
  if (kind < 68) {
    const pod = `${pick(WORDS)}-${rnd(10, '0123456789abcdef')}-${rnd(5, 'bcdfghjklmnpqrstvwxz2456789')}`;
    const status = pick(['Running', 'Running', 'Running', 'Pending', 'CrashLoopBackOff', 'Completed']);
    const colour = status === 'Running' ? '' : status === 'Pending' ? `${ESC}[33m` : `${ESC}[31m`;
    return `${pick(['default', 'kube-system', 'payments', 'monitoring']).padEnd(12)} ${pod.padEnd(34)} 1/1     ${colour}${status.padEnd(17)}${colour === '' ? '' : RESET} ${int(5)}          ${1 + int(59)}d`;
  }
  if (kind < 76) return `${ESC}[2m2024-05-${pad2(1 + int(28))}T${pad2(int(24))}:${pad2(int(60))}:${pad2(int(60))}Z${RESET} ${ESC}[32mINFO${RESET} ${pick(WORDS)}[${1000 + int(9000)}]: ${pick(WORDS)} ${pick(WORDS)} id=${rnd(8, HEX)} took=${int(900)}ms`;
  if (kind < 82) return `${ESC}[37;40mnpm${RESET} ${ESC}[30;43mWARN${RESET} deprecated ${pick(WORDS)}@${int(5)}.${int(20)}.${int(9)}: this version is no longer supported`;
  if (kind < 88) return `${rnd(12, HEX)}: ${pick(['Pull complete', 'Already exists', 'Download complete', 'Verifying Checksum'])}`;
  if (kind < 92) return `${ESC}[1m$${RESET} ${pick(['kubectl get pods -A', 'journalctl -u nginx -f', 'ls -la /var/log', 'git log --oneline -n 20'])}`;
  if (kind < 96) return `│ ${pick(WORDS).padEnd(12)} │ ${pick(['Größe', 'terminé', '日本語', '✓ ok', '✗ failed']).padEnd(8)} │ ${String(int(1000)).padStart(5)} │`;
  return `\r${ESC}[K[${'#'.repeat(int(30)).padEnd(30)}] ${int(100)}% ${pick(WORDS)}`;
}

// -- the builder ----------------------------------------------------------------------------

export interface CorpusOptions {
  /** Positives per kind (each kind of each category). */
  readonly perKind: number;
  /** Negatives per kind. */
  readonly negativesPerKind: number;
  /** Filler lines between labelled blocks (one filler block of this many lines). */
  readonly fillerLines: number;
  readonly seed?: number;
}

export function buildLabelledCorpus(options: CorpusOptions): LabelledCorpus {
  const seed = options.seed ?? 2024;
  const rnd = fakeRandom(seed);
  const int = numbers(seed * 7 + 1);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  const w = new Writer(int, rnd);
  const positives: Positive[] = [];
  const negatives: Negative[] = [];
  const knownSecrets: string[] = [];

  type Job = { kind: 'pos'; category: Category; what: string; provider?: SecretKind } | { kind: 'neg'; what: string };
  const jobs: Job[] = [];
  for (let n = 0; n < options.perKind; n++) {
    for (const provider of PROVIDER_KINDS) jobs.push({ kind: 'pos', category: 'provider', what: provider.kind, provider });
    for (const what of CONTEXT_KINDS) jobs.push({ kind: 'pos', category: 'context', what });
    for (const what of STRUCTURED_KINDS) jobs.push({ kind: 'pos', category: 'structured', what });
    for (const what of GENERIC_KINDS) jobs.push({ kind: 'pos', category: 'generic', what });
    for (const what of KNOWN_KINDS) jobs.push({ kind: 'pos', category: 'known', what });
  }
  for (let n = 0; n < options.negativesPerKind; n++) for (const what of NEGATIVE_KINDS) jobs.push({ kind: 'neg', what });
  // Shuffle (Fisher-Yates, seeded) so that kinds interleave.
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [jobs[i], jobs[j]] = [jobs[j]!, jobs[i]!];
  }

  const filler = (lines: number): void => {
    if (lines <= 0) return;
    w.prompt();
    const width = 'admin@bastion-2:~/ops ($) '.length + String(w.block).length;
    w.typed([pick(['git log --oneline', 'kubectl get pods -A', 'make -j2', 'ls -l --color', 'npm ci', 'docker compose pull', 'journalctl -u api --since 1h'])], width);
    for (let i = 0; i < lines; i++) w.line([fillerLine(rnd, int)]);
  };
  const promptWidth = (): number => `admin@bastion-2:~/ops (${w.block})$ `.length;

  const newPositive = (kind: string, category: Category, expected: readonly string[], parts: readonly string[]): Positive => {
    const positive: Positive = { index: positives.length, kind, category, expected, parts, transforms: [], block: -1, plainSpans: [], rawChars: [] };
    positives.push(positive);
    return positive;
  };
  /** A positive's mark, with transforms chosen: split half the time, sgr a third of the time in output. */
  const mark = (positive: Positive, text: string, where: 'out' | 'typed', allowSgr = true): Mark => {
    const split = int(2) === 0;
    const sgr = where === 'out' && allowSgr && int(3) === 0 && !text.includes('\n');
    const typo = where === 'typed' && int(3) === 0;
    if (split) positive.transforms.push('split');
    if (sgr) positive.transforms.push('sgr');
    if (where === 'typed') positive.transforms.push('typed');
    if (typo) positive.transforms.push('backspace');
    return { text, positive, split, sgr, typo };
  };

  const tokenContext = (positive: Positive, secret: string, name: string, context: ContextName): void => {
    w.prompt();
    const width = promptWidth();
    const m = (where: 'out' | 'typed'): Mark => mark(positive, secret, where);
    switch (context) {
      case 'bare':
        w.typed([`cat ~/.config/${name.toLowerCase().replace(/_/g, '-')}`], width);
        w.line([m('out')]);
        break;
      case 'env-grep':
        w.typed([`env | grep ${name.split('_')[0]}`], width);
        w.line([`${ESC}[01;31m${ESC}[K${name.split('_')[0]}${ESC}[m${ESC}[K${name.slice(name.split('_')[0]!.length)}=`, m('out')]);
        break;
      case 'export':
        w.typed([`export ${name}=`, m('typed')], width);
        break;
      case 'curl-header':
        w.typed([`curl -sS -H "Authorization: Bearer `, m('typed'), `" https://api.example.com/v1/${pick(WORDS)}s | jq .`], width);
        w.line([`{`]);
        w.line([`  ${ESC}[34;1m"status"${RESET}: ${ESC}[0;32m"ok"${RESET}`]);
        w.line([`}`]);
        break;
      case 'json':
        w.typed([`curl -s https://ci.example.com/api/${pick(WORDS)}/credentials | jq .`], width);
        w.line([`{`]);
        w.line([`  ${ESC}[34;1m"name"${RESET}: ${ESC}[0;32m"${pick(WORDS)}-ci"${RESET},`]);
        w.line([`  ${ESC}[34;1m"value"${RESET}: ${ESC}[0;32m"`, m('out'), `"${RESET},`]);
        w.line([`  ${ESC}[34;1m"expires_at"${RESET}: ${ESC}[0;32m"2025-01-0${1 + int(9)}T00:00:00Z"${RESET}`]);
        w.line([`}`]);
        break;
      case 'yaml':
        w.typed([`cat deploy/values.yaml`], width);
        w.line([`${pick(WORDS)}:`]);
        w.line([`  image: registry.example.com/${pick(WORDS)}:1.${int(30)}.${int(9)}`]);
        w.line([`  ${name.toLowerCase().replace(/_/g, '')}: `, m('out')]);
        w.line([`  replicas: ${1 + int(5)}`]);
        break;
      case 'log':
        w.typed([`tail -n 3 /var/log/${pick(WORDS)}.log`], width);
        w.line([`2024-05-0${1 + int(9)} 12:0${int(9)}:1${int(9)} INFO  starting ${pick(WORDS)} worker pid=${1000 + int(9000)}`]);
        w.line([`2024-05-0${1 + int(9)} 12:0${int(9)}:2${int(9)} DEBUG upstream call with credentials `, m('out'), ` (retry ${int(3)})`]);
        w.line([`2024-05-0${1 + int(9)} 12:0${int(9)}:3${int(9)} INFO  ${pick(WORDS)} done in ${int(900)}ms`]);
        break;
      case 'docker-env':
        w.typed([`docker run --rm -e ${name}=`, m('typed'), ` registry.example.com/${pick(WORDS)}:latest ${pick(WORDS)}`], width);
        w.line([`Unable to find image 'registry.example.com/${pick(WORDS)}:latest' locally`]);
        break;
      default:
        context satisfies never;
    }
  };

  const pem = (label: string, first: string, lines: number): { text: string; body: string[] } => {
    const body = [first + rnd(64 - first.length, BASE64)];
    for (let i = 1; i < lines; i++) body.push(rnd(64, BASE64));
    body.push(rnd(20 + int(40), BASE64) + '=');
    const begin = join('-----BEGIN ', label, 'PRIVATE KEY-----');
    const end = join('-----END ', label, 'PRIVATE KEY-----');
    return { text: [begin, ...body, end].join('\n'), body };
  };

  const positive = (job: Extract<Job, { kind: 'pos' }>): void => {
    if (job.provider !== undefined) {
      const p = job.provider;
      const secret = p.make(rnd, int);
      let context = pick(p.contexts ?? TOKEN_CONTEXTS);
      if (p.kind === 'twilio-api-key') context = pick(['export', 'env-grep', 'yaml', 'docker-env'] as const);
      const pos = newPositive(p.kind, 'provider', p.expected, [secret]);
      tokenContext(pos, secret, p.name, context);
      return;
    }
    const what = job.what;
    w.prompt();
    const width = promptWidth();
    const single = (kind: string, category: Category, expected: readonly string[], secret: string): Positive => newPositive(kind, category, expected, [secret]);
    switch (what) {
      case 'url-password': {
        const pw = password(rnd, int).replace(/[#^~]/g, 'q');
        const p = single(what, 'context', ['url-password'], pw);
        const scheme = pick(['postgresql', 'mysql', 'redis', 'amqp', 'mongodb+srv', 'https']);
        if (int(2) === 0) w.typed([`psql "${scheme}://app_${pick(WORDS)}:`, mark(p, pw, 'typed'), `@db-${int(9)}.internal.example.com:5432/app?sslmode=require"`], width);
        else {
          w.typed(['echo $DATABASE_URL'], width);
          w.line([`${scheme}://app:`, mark(p, pw, 'out'), `@db-${int(9)}.internal.example.com:5432/app`]);
        }
        break;
      }
      case 'env-file': {
        const pw = password(rnd, int);
        const p = single(what, 'context', ['secret-assignment'], pw);
        w.typed(['cat .env'], width);
        w.line([`APP_ENV=production`]);
        w.line([`${pick(['DB_PASSWORD', 'REDIS_PASSWORD', 'SMTP_PASS' + 'WORD', 'APP_SECRET', 'JWT_SECRET', 'API_TOKEN'])}=`, mark(p, pw, 'out')]);
        w.line([`LOG_LEVEL=info`]);
        break;
      }
      case 'yaml-password': {
        const pw = password(rnd, int);
        const p = single(what, 'context', ['secret-assignment-yaml'], pw);
        w.typed(['cat config/database.yml'], width);
        w.line(['production:']);
        w.line(['  adapter: postgresql']);
        w.line([`  username: ${pick(WORDS)}`]);
        w.line(['  password: ', mark(p, pw, 'out')]);
        w.line([`  host: db-${int(9)}.internal`]);
        break;
      }
      case 'json-password': {
        const pw = password(rnd, int);
        const p = single(what, 'context', ['secret-assignment-double-quoted'], pw);
        w.typed([`docker inspect ${pick(WORDS)} --format '{{json .Config.Env}}' | jq .`], width);
        w.line([`{ ${ESC}[34;1m"user"${RESET}: ${ESC}[0;32m"${pick(WORDS)}"${RESET}, ${ESC}[34;1m"password"${RESET}: ${ESC}[0;32m"`, mark(p, pw, 'out', false), `"${RESET} }`]);
        break;
      }
      case 'single-quoted': {
        const pw = password(rnd, int);
        const p = single(what, 'context', ['secret-assignment-single-quoted'], pw);
        w.typed(['grep -rn secret settings/'], width);
        w.line([`settings/prod.py:${10 + int(80)}:SECRET_KEY = '`, mark(p, pw, 'out'), `'`]);
        break;
      }
      case 'cli-flag': {
        const pw = password(rnd, int);
        const p = single(what, 'context', ['cli-secret-flag', 'secret-assignment'], pw);
        w.typed([`${pick(['vault-cli', 'terraform-provider', 'pgbouncer-admin', 'rabbitmqadmin'])} --host db-${int(9)} --${pick(['password', 'token', 'client-secret', 'api-key'])} `, mark(p, pw, 'typed'), ' status'], width);
        w.line(['status: ok']);
        break;
      }
      case 'mysql-p': {
        const pw = password(rnd, int);
        const p = single(what, 'context', ['mysql-password-flag'], pw);
        w.typed([`mysql -h db-${int(9)}.internal -u root -p`, mark(p, pw, 'typed'), ' app'], width);
        w.line(['mysql: [Warning] Using a password on the command line interface can be insecure.']);
        break;
      }
      case 'docker-login-p': {
        const pw = password(rnd, int);
        const p = single(what, 'context', ['cli-short-password-flag'], pw);
        w.typed(['docker login -u deploy -p ', mark(p, pw, 'typed'), ' registry.example.com'], width);
        w.line(['WARNING! Using --password via the CLI is insecure. Use --password-stdin.']);
        w.line(['Login Succeeded']);
        break;
      }
      case 'curl-u': {
        const pw = password(rnd, int);
        const p = single(what, 'context', ['curl-user-password'], pw);
        w.typed(['curl -sS -u admin:', mark(p, pw, 'typed'), ` https://jenkins.example.com/job/${pick(WORDS)}/build -X POST`], width);
        break;
      }
      case 'authorization-basic':
      case 'authorization-bearer': {
        const value = what === 'authorization-basic' ? b64(`${pick(WORDS)}:${password(rnd, int)}`) : rnd(40 + int(20), BASE64URL);
        const p = single(what, 'context', ['authorization-header'], value);
        w.typed([`curl -v https://api.example.com/v2/${pick(WORDS)}`], width);
        w.line(['> GET /v2/status HTTP/2']);
        w.line(['> Host: api.example.com']);
        w.line([`> Authorization: ${what === 'authorization-basic' ? 'Basic' : 'Bearer'} `, mark(p, value, 'out')]);
        w.line(['> Accept: */*']);
        w.line(['< HTTP/2 200']);
        break;
      }
      case 'api-key-header': {
        const value = rnd(32 + int(8));
        const p = single(what, 'context', ['api-key-header'], value);
        w.typed([`http GET https://api.example.com/v1/items X-API-Key:`, mark(p, value, 'typed')], width);
        w.line([`${ESC}[34mHTTP${RESET}/${ESC}[34m1.1${RESET} ${ESC}[34m200${RESET} ${ESC}[36mOK${RESET}`]);
        break;
      }
      case 'k8s-secret-yaml':
      case 'k8s-secret-json': {
        const value = b64(password(rnd, int));
        const p = single(what, 'context', ['kubernetes-secret-data'], value);
        const name = `${pick(WORDS)}-credentials`;
        if (what === 'k8s-secret-yaml') {
          w.typed([`kubectl get secret ${name} -o yaml`], width);
          w.line(['apiVersion: v1']);
          w.line(['data:']);
          w.line([`  username: ${b64(pick(WORDS))}`]);
          w.line(['  password: ', mark(p, value, 'out')]);
          w.line(['kind: Secret']);
          w.line(['metadata:']);
          w.line([`  name: ${name}`]);
          w.line(['  namespace: default']);
          w.line(['type: Opaque']);
        } else {
          w.typed([`kubectl get secret ${name} -o json`], width);
          w.line(['{']);
          w.line(['    "apiVersion": "v1",']);
          w.line(['    "data": {']);
          w.line(['        "password": "', mark(p, value, 'out'), '",']);
          w.line([`        "username": "${b64(pick(WORDS))}"`]);
          w.line(['    },']);
          w.line(['    "kind": "Secret"']);
          w.line(['}']);
        }
        break;
      }
      case 'aws-secret-key': {
        const value = rnd(40, BASE64).replace(/^[+/]/, 'a');
        const p = single(what, 'context', ['aws-secret-access-key'], value);
        w.typed(['cat ~/.aws/credentials'], width);
        w.line(['[default]']);
        w.line([`aws_access_key_id = ${join('AK', 'IA')}${rnd(16, BASE32)}`]);
        w.line(['aws_secret_access_key = ', mark(p, value, 'out')]);
        break;
      }
      case 'aws-session-token': {
        const value = 'IQoJb3JpZ2luX2Vj' + rnd(280 + int(100), BASE64);
        const p = single(what, 'context', ['aws-session-token'], value);
        w.typed(['aws sts assume-role --role-arn arn:aws:iam::123456789012:role/deploy --role-session-name ci | jq .Credentials'], width);
        w.line(['{']);
        w.line(['  "SessionToken": "', mark(p, value, 'out', false), '",']);
        w.line(['  "Expiration": "2024-05-01T13:00:00+00:00"']);
        w.line(['}']);
        break;
      }
      case 'azure-account-key': {
        const value = rnd(86, BASE64) + '==';
        const p = single(what, 'context', ['azure-storage-key'], value);
        w.typed(['az storage account show-connection-string -n prodlogs -o tsv'], width);
        w.line(['DefaultEndpointsProtocol=https;AccountName=prodlogs;AccountKey=', mark(p, value, 'out'), ';EndpointSuffix=core.windows.net']);
        break;
      }
      case 'azure-sas': {
        const value = rnd(43, BASE62) + '%3D';
        const p = single(what, 'context', ['azure-sas-token'], value);
        w.typed(['az storage blob generate-sas --full-uri -c backups -n db.dump --permissions r --expiry 2025-01-01 -o tsv'], width);
        w.line(['https://prodlogs.blob.core.windows.net/backups/db.dump?se=2025-01-01&sp=r&sv=2022-11-02&sr=b&sig=', mark(p, value, 'out')]);
        break;
      }
      case 'slack-webhook': {
        const value = join('T', rnd(8, BASE32), '/B', rnd(10, BASE32), '/', rnd(24));
        const p = single(what, 'context', ['slack-webhook'], value);
        w.typed(['curl -X POST -d \'{"text":"deployed"}\' https://hooks.slack.com/services/', mark(p, value, 'typed')], width);
        w.line(['ok']);
        break;
      }
      case 'rsa-pem':
      case 'openssh':
      case 'pkcs8': {
        const key =
          what === 'rsa-pem'
            ? pem('RSA ', 'MIIEpAIBAAKCAQEA', 4 + int(20))
            : what === 'pkcs8'
              ? pem('', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 4 + int(20))
              : pem('OPENSSH ', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW', 3 + int(6));
        const p = newPositive(what, 'structured', ['private-key-block'], key.body);
        w.typed([`cat ~/.ssh/${what === 'openssh' ? 'id_ed25519' : 'id_rsa'}`], width);
        w.line([mark(p, key.text, 'out')]);
        break;
      }
      case 'gcp-json': {
        const key = pem('', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 6 + int(10));
        const lines = key.text.split('\n');
        const body = lines.slice(1, -1).join('\\n');
        const p = newPositive(what, 'structured', ['gcp-service-account-key', 'private-key-block'], [body]);
        w.typed(['cat sa-key.json'], width);
        w.line(['{']);
        w.line(['  "type": "service_account",']);
        w.line([`  "project_id": "${pick(WORDS)}-prod",`]);
        w.line([`  "private_key_id": "${rnd(40, HEX)}",`]);
        w.line([`  "private_key": "${lines[0]!}\\n`, mark(p, body, 'out', false), `\\n${lines[lines.length - 1]!}\\n",`]);
        w.line([`  "client_email": "ci@${pick(WORDS)}-prod.iam.gserviceaccount.com"`]);
        w.line(['}']);
        break;
      }
      case 'jwt-bare':
      case 'jwt-bearer': {
        const token = [b64url('{"alg":"RS256","kid":"' + rnd(8) + '"}'), b64url(`{"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:default:${pick(WORDS)}","exp":${1700000000 + int(99999999)}}`), rnd(342, BASE64URL)].join('.');
        const p = single(what, 'structured', ['jwt'], token);
        if (what === 'jwt-bare') {
          w.typed([`kubectl create token ${pick(WORDS)} --duration 1h`], width);
          w.line([mark(p, token, 'out')]);
        } else {
          w.typed(['curl -sk https://10.0.0.1:6443/api -H "Authorization: Bearer ', mark(p, token, 'typed'), '"'], width);
        }
        break;
      }
      case 'random-api-key': {
        const value = rnd(32 + int(9));
        const p = single(what, 'generic', ['generic-high-entropy'], value);
        w.typed([`${pick(WORDS)}ctl keys create --name ci-${pick(WORDS)}`], width);
        w.line([`${ESC}[32m✓${RESET} Created key ci-${pick(WORDS)}`]);
        w.line(['  Key:     ', mark(p, value, 'out')]);
        w.line(['  Store it now: it will not be shown again.']);
        break;
      }
      case 'random-base64-key': {
        const value = rnd(44, BASE64).replace(/^[+/]/, 'Q');
        const p = single(what, 'generic', ['generic-high-entropy'], value);
        w.typed(['openssl rand -base64 33'], width);
        w.line([mark(p, value, 'out')]);
        break;
      }
      case 'known-verbatim':
      case 'known-base64':
      case 'known-base64-inner':
      case 'known-percent':
      case 'known-hex':
      case 'known-json': {
        // What an app injects: a generated password, or a passphrase a person chose (low entropy).
        const secret =
          int(2) === 0
            ? password(rnd, int)
            : `${pick(['Blue', 'Harbor', 'Winter', 'Falcon', 'Maple', 'Copper'])}${pick(['Harbor', 'Rain', 'Sky', 'Stone'])}${pick(['!', '#', '-', '.'])}${1990 + int(35)}${what === 'known-json' ? '"q\\' : ''}`;
        knownSecrets.push(secret);
        const bytes = Buffer.from(secret, 'utf8');
        let shown: string;
        let seen: string;
        let before = '';
        switch (what) {
          case 'known-verbatim':
            shown = secret;
            seen = secret;
            w.typed(['cat /run/secrets/db'], width);
            break;
          case 'known-base64':
            shown = bytes.toString('base64');
            seen = shown.replace(/=+$/, '');
            w.typed([`kubectl get secret db -o jsonpath='{.data.pw}'; echo`], width);
            break;
          case 'known-base64-inner': {
            const user = pick(WORDS).slice(0, 1 + int(4));
            shown = Buffer.from(`${user}:${secret}`, 'utf8').toString('base64');
            // Only the characters that depend on the secret alone are its own (known-secrets.ts).
            const start = Math.ceil((8 * (user.length + 1)) / 6);
            const end = Math.floor((8 * (user.length + 1 + bytes.length)) / 6);
            seen = shown.slice(start, end);
            w.typed([`printf '%s' "${user}:$PW" | base64 -w0; echo`], width);
            break;
          }
          case 'known-percent':
            shown = encodeURIComponent(secret);
            seen = shown;
            before = `https://sso.example.com/login?user=admin&p=`;
            w.typed(['grep login access.log | tail -n 1'], width);
            break;
          case 'known-hex':
            shown = bytes.toString('hex');
            seen = shown;
            w.typed(['printf %s "$PW" | xxd -p'], width);
            break;
          default:
            shown = JSON.stringify(secret).slice(1, -1);
            seen = shown;
            before = `  "Cmd": ["--auth", "`;
            w.typed([`docker inspect ${pick(WORDS)} | grep -A1 Cmd`], width);
        }
        const p = newPositive(what, 'known', ['known-secret'], [seen]);
        if (seen === shown) w.line([before, mark(p, shown, 'out'), what === 'known-json' ? '"]' : '']);
        else {
          const at = shown.indexOf(seen);
          w.line([before, shown.slice(0, at), mark(p, seen, 'out', false), shown.slice(at + seen.length)]);
        }
        break;
      }
      default:
        throw new Error(`unknown positive kind ${what}`);
    }
  };

  const negative = (what: string): void => {
    w.prompt();
    const width = promptWidth();
    const neg = (value: string): Mark => {
      const n: Negative = { index: negatives.length, kind: what, value, block: -1, plainSpans: [], rawSpans: [] };
      negatives.push(n);
      return { text: value, negative: n };
    };
    switch (what) {
      case 'git-sha':
        w.typed(['git log -n 1 --format=fuller'], width);
        w.line([`${ESC}[33mcommit `, neg(rnd(40, HEX)), `${RESET}`]);
        w.line(['Merge: ', neg(rnd(7 + int(5), HEX)), ' ', neg(rnd(9, HEX))]);
        break;
      case 'uuid': {
        const uuid = (): string => [rnd(8, HEX), rnd(4, HEX), '4' + rnd(3, HEX), '8' + rnd(3, HEX), rnd(12, HEX)].join('-');
        w.typed(['openstack server list -f value -c ID -c Name'], width);
        w.line([neg(uuid()), ` ${pick(WORDS)}-${int(9)}`]);
        w.line([neg(uuid().toUpperCase()), ` ${pick(WORDS)}-${int(9)}`]);
        break;
      }
      case 'docker-digest':
        w.typed([`docker pull ${pick(WORDS)}:latest`], width);
        w.line([`Digest: `, neg(`sha256:${rnd(64, HEX)}`)]);
        w.line([`Status: Downloaded newer image for ${pick(WORDS)}:latest`]);
        break;
      case 'npm-integrity':
        w.typed(['npm view left-pad dist'], width);
        w.line([`{ integrity: '`, neg(`sha512-${rnd(86, BASE64)}==`), `',`]);
        w.line([`  shasum: '`, neg(rnd(40, HEX)), `',`]);
        w.line([`  tarball: 'https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz' }`]);
        break;
      case 'base64-text': {
        const text = `${pick(WORDS)} ${pick(WORDS)} ${pick(['is ready', 'finished with 0 errors', 'started on node 3', 'rolled back'])} at 2024-05-0${1 + int(9)} ${int(24)}:${int(60)}`;
        w.typed([`echo '${text}' | base64 -w0; echo`], width);
        w.line([neg(b64(text + '\n'))]);
        break;
      }
      case 'hostname':
        w.typed(['kubectl get nodes -o wide'], width);
        w.line([neg(`ip-10-${int(255)}-${int(255)}-${int(255)}.eu-west-${1 + int(2)}.compute.internal`), `   Ready    <none>   ${int(90)}d   v1.29.${int(9)}`]);
        w.line([neg(`${pick(WORDS)}-${int(40)}.prod.${pick(['example.com', 'corp.example.net'])}`), '   Ready    control-plane']);
        break;
      case 'pod-name': {
        const pod = (): string => `${pick(WORDS)}-${pick(WORDS)}-${rnd(10, '0123456789abcdef')}-${rnd(5, 'bcdfghjklmnpqrstvwxz2456789')}`;
        w.typed(['kubectl get pods'], width);
        w.line([neg(pod()), '   1/1     Running   0          3d']);
        w.line([neg(pod()), '   0/1     Pending   0          12s']);
        break;
      }
      case 'url-no-password':
        w.typed(['git remote -v'], width);
        w.line(['origin\t', neg(`https://${pick(['deploy', 'oauth2', 'ci'])}@git.example.com/${pick(WORDS)}/${pick(WORDS)}.git`), ' (fetch)']);
        w.line(['upstream\t', neg(`https://github.com/${pick(WORDS)}/${pick(WORDS)}.git?ref=${rnd(40, HEX)}&page=${int(9)}`), ' (push)']);
        break;
      case 'container-id':
        w.typed(['docker ps --no-trunc -q'], width);
        w.line([neg(rnd(64, HEX))]);
        w.line([neg(rnd(12, HEX))]);
        break;
      case 'aws-resource-id':
        w.typed(['aws ec2 describe-instances --query "Reservations[].Instances[].[InstanceId,VpcId,ImageId]" --output text'], width);
        w.line([neg(`i-0${rnd(16, HEX)}`), '\t', neg(`vpc-0${rnd(16, HEX)}`), '\t', neg(`ami-0${rnd(16, HEX)}`)]);
        w.line([neg(`arn:aws:iam::${rnd(12, '0123456789')}:role/${pick(WORDS)}-${pick(WORDS)}-role`)]);
        break;
      case 'go-sum':
        w.typed(['tail -n 2 go.sum'], width);
        w.line([`github.com/${pick(WORDS)}/${pick(WORDS)} v1.${int(20)}.${int(9)} `, neg(`h1:${rnd(43, BASE64)}=`)]);
        w.line([`github.com/${pick(WORDS)}/${pick(WORDS)} v1.${int(20)}.${int(9)}/go.mod `, neg(`h1:${rnd(43, BASE64)}=`)]);
        break;
      case 'pip-hash':
        w.typed(['pip download requests==2.32.3 --no-deps -d /tmp/w -v 2>&1 | grep hash'], width);
        w.line(['requests==2.32.3 \\']);
        w.line(['    --hash=', neg(`sha256:${rnd(64, HEX)}`)]);
        break;
      case 'camel-identifier':
        w.typed(['./gradlew test'], width);
        w.line([neg(`com.example.${pick(WORDS)}.${pick(['PaymentServiceIntegrationTest', 'UserRepositoryImplTest', 'OrderControllerV2Test'])}`), ' > ', neg(`shouldReturn${pick(['NotFoundWhenUserIsMissing', 'Http404ForUnknownOrderId2', 'EmptyListWhenCacheIsCold'])}()`), ' PASSED']);
        w.line([neg(`/home/admin/.gradle/caches/modules-2/files-2.1/org.${pick(WORDS)}/${pick(WORDS)}-core/5.${int(9)}.${int(9)}`)]);
        break;
      case 'keyword-placeholder':
        w.typed(['cat .env.example'], width);
        w.line([`DB_PASSWORD=`, neg(pick(['${DB_PASSWORD}', '<your-password-here>', 'changeme-placeholder', '{{ .Values.db.password }}']))]);
        w.line(['API_TOKEN=', neg(pick(['$API_TOKEN', 'your_token_here', 'xxxxxxxxxxxxxxxx', '********']))]);
        w.line([`max_tokens=`, neg(String(1024 * (1 + int(8))))]);
        w.line(['token_type: ', neg('Bearer')]);
        break;
      case 'k8s-configmap':
        w.typed([`kubectl get configmap ${pick(WORDS)}-config -o yaml`], width);
        w.line(['apiVersion: v1']);
        w.line(['data:']);
        w.line(['  LOG_LEVEL: ', neg(pick(['info', 'debug', 'warning']))]);
        w.line(['  UPSTREAM_URL: ', neg(`http://${pick(WORDS)}.${pick(WORDS)}.svc.cluster.local:8080`)]);
        w.line(['kind: ConfigMap']);
        break;
      case 'build-id':
        w.typed(['gh run list -L 1'], width);
        w.line([`${ESC}[32m✓${RESET}  ${pick(WORDS)}: bump deps  CI  main  push  `, neg(String(9_000_000_000 + int(999_999))), '  3m2s']);
        w.line(['Build ID: ', neg(`${pick(WORDS)}-build-2024${rnd(4, '0123456789')}-${rnd(6, 'abcdefghijklmnopqrstuvwxyz')}`)]);
        break;
      default:
        throw new Error(`unknown negative kind ${what}`);
    }
  };

  for (const job of jobs) {
    filler(options.fillerLines);
    if (job.kind === 'pos') positive(job);
    else negative(job.what);
  }
  filler(options.fillerLines);

  // The wrapped transform: whether the secret crosses a multiple of 80 columns on its visible line.
  const plain = w.plain.join('');
  for (const p of positives) {
    for (const [start, end] of p.plainSpans) {
      const lineStart = plain.lastIndexOf('\n', start - 1) + 1;
      const a = start - lineStart;
      const b = end - 1 - lineStart;
      if (Math.floor(a / COLS) !== Math.floor(b / COLS) && !p.transforms.includes('wrapped')) p.transforms.push('wrapped');
    }
  }
  return { stream: w.raw.join(''), cuts: w.cuts, idles: w.idles, plain, keys: w.keys, blocks: w.block + 1, positives, negatives, knownSecrets };
}

/**
 * Mixed terminal output for the throughput measurement: the labelled generator with a filler
 * block of `fillerLines` lines between labelled blocks (a secret every few hundred lines).
 */
export function buildThroughputUnit(fillerLines: number, perKind: number, seed = 7): { stream: string; knownSecrets: readonly string[]; lines: number; secrets: number } {
  const corpus = buildLabelledCorpus({ perKind, negativesPerKind: perKind, fillerLines, seed });
  let lines = 0;
  for (let i = corpus.stream.indexOf('\n'); i >= 0; i = corpus.stream.indexOf('\n', i + 1)) lines++;
  return { stream: corpus.stream, knownSecrets: corpus.knownSecrets, lines, secrets: corpus.positives.length };
}
