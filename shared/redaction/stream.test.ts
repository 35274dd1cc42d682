/* eslint-disable no-control-regex -- terminal escape sequences are made of control characters */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { devRedactionKey, fingerprint } from './fingerprint.ts';
import { knownSecretRule } from './known-secrets.ts';
import { parseMarker, redactionMarker } from './markers.ts';
import type { RedactedPiece } from './redactor.ts';
import { BUILTIN_RULES } from './rules/index.ts';
import { FAKE, fakeRandom } from './rules/samples.test-support.ts';
import { compileRules } from './scanner.ts';
import { HOLD_LIMIT, StreamRedactor } from './stream.ts';
import { cellWidth, renderVisible } from './terminal-view.ts';
import type { RuleCategory, SecretRule } from './types.ts';

// ---------------------------------------------------------------------------------------------
// The redactor under test: the built-in rules plus one known secret, a dev key, 80 columns.

const COLS = 80;
const KEY = devRedactionKey('stream.test');
const rnd = fakeRandom(3_141_592);
/** A value the app injected into the session (it typed it at a prompt, put it in the environment). */
const KNOWN_SECRET = 'Velvet-Orbit-' + rnd(6);
const KNOWN_RULE = knownSecretRule([KNOWN_SECRET])!;
const RULES: readonly SecretRule[] = [...BUILTIN_RULES, KNOWN_RULE];
const COMPILED = compileRules(RULES);
const CATEGORY = new Map<string, RuleCategory>(RULES.map((rule) => [rule.id, rule.category]));

function newRedactor(): StreamRedactor {
  return new StreamRedactor({
    rules: COMPILED,
    categoryOf: (id) => CATEGORY.get(id),
    key: KEY,
    policyVersion: 'test+builtin-1',
    cols: COLS,
  });
}

interface Recording {
  /** The text pieces, concatenated: what the record path stores. */
  readonly text: string;
  readonly markers: readonly string[];
  readonly redactor: StreamRedactor;
}

function collect(pieces: readonly RedactedPiece[], text: string[], markers: string[]): void {
  for (const piece of pieces) {
    if (piece.kind === 'text') text.push(piece.text);
    else markers.push(piece.label);
  }
}

/** Runs the output chunks through a fresh redactor, then end(). */
function recordOutput(chunks: readonly string[], redactor = newRedactor()): Recording {
  const text: string[] = [];
  const markers: string[] = [];
  for (const chunk of chunks) collect(redactor.output(chunk), text, markers);
  collect(redactor.end(), text, markers);
  return { text: text.join(''), markers, redactor };
}

const ESCAPE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])/g;
const stripEscapes = (text: string): string => text.replace(ESCAPE, '');
const escapesOf = (text: string): string[] => text.match(ESCAPE) ?? [];

/** Every substring of `secret` of `length` characters, taken line by line (a key block's line breaks are not cells). */
function fragments(secret: string, length = 5): Set<string> {
  const out = new Set<string>();
  for (const line of secret.split('\n')) for (let i = 0; i + length <= line.length; i++) out.add(line.slice(i, i + length));
  return out;
}

/** Where two strings first differ, with some context: a readable failure for long recordings. */
function firstDifference(actual: string, expected: string): string {
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  const from = Math.max(0, i - 60);
  return `first difference at ${i}:\n  actual   ${JSON.stringify(actual.slice(from, i + 60))}\n  expected ${JSON.stringify(expected.slice(from, i + 60))}`;
}

// ---------------------------------------------------------------------------------------------
// The corpus: each case is what the user sees (a command and its output), with the secrets in it
// marked, and the rules that may name each secret's marker.

interface SecretPart {
  readonly secret: string;
  readonly rules: readonly string[];
}
type CasePart = string | SecretPart;
const s = (secret: string, ...rules: string[]): SecretPart => ({ secret, rules });

const k8sPassword = btoa('s3cr3t-' + rnd(8));
const k8sUser = btoa('admin');

const CORPUS: Readonly<Record<string, readonly CasePart[]>> = {
  github: ['$ gh auth token\n', s(FAKE.githubPat, 'github-token'), '\n'],
  gitlab: ['$ cat ~/.config/glab/pat\n', s(FAKE.gitlabPat, 'gitlab-token'), '\n'],
  slack: ['$ echo $SLACK_BOT\n', s(FAKE.slackBot, 'slack-token'), '\n'],
  stripe: ['$ stripe listen --api-key ', s(FAKE.stripeLive, 'stripe-key'), ' --forward-to localhost:3000\n'],
  aws: [
    '$ cat ~/.aws/credentials\n[default]\naws_access_key_id = ', s(FAKE.awsAccessKeyId, 'aws-access-key-id'),
    '\naws_secret_access_key = ', s(FAKE.awsSecretKey, 'aws-secret-access-key'), '\nregion = eu-west-1\n',
  ],
  jwt: ['$ cat ~/.cache/session\n', s(FAKE.jwt, 'jwt'), '\n'],
  pem: ['$ cat ~/.ssh/id_rsa\n', s(FAKE.rsaKey, 'private-key-block'), '\n'],
  openssh: ['$ cat ~/.ssh/id_ed25519\n', s(FAKE.opensshKey, 'private-key-block'), '\n'],
  // Typed a key at a time, `postgres:` ends in the start of the keyword `://` while the rule
  // needs the scheme before it: scanner.holdPoint holds only the `:` there (it ignores the rule's
  // `before`), so this case passes thanks to StreamRedactor#holdPoint, which adds that context.
  urlPassword: ['$ psql postgres://app:', s(FAKE.password2, 'url-password'), '@db.internal:5432/app\n'],
  envAssignment: ['$ cat .env\nDB_HOST=db.internal\nDB_PASSWORD=', s(FAKE.password, 'secret-assignment'), '\nDB_PORT=5432\n'],
  yamlPassword: ['$ cat config.yml\ndatabase:\n  user: app\n  password: ', s(FAKE.password2, 'secret-assignment-yaml'), '\n  port: 5432\n'],
  passwordFlag: ['$ deployctl push --password ', s(FAKE.password, 'cli-secret-flag'), ' --force\n'],
  bearer: ["$ curl -H 'Authorization: Bearer ", s(FAKE.randomKey, 'authorization-header'), "' https://api.internal/v1/me\n"],
  kubernetesSecret: [
    '$ kubectl get secret db -o yaml\napiVersion: v1\ndata:\n  password: ', s(k8sPassword, 'kubernetes-secret-data'),
    '\n  username: ', s(k8sUser, 'kubernetes-secret-data'), '\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ntype: Opaque\n',
  ],
  knownSecret: ['$ printenv APP_PASS\n', s(KNOWN_SECRET, 'known-secret'), '\n'],
  knownSecretBase64: ['$ printenv APP_PASS | base64\n', s(btoa(KNOWN_SECRET), 'known-secret', 'generic-high-entropy'), '\n'],
  npm: ['$ cat ~/.npmrc\n//registry.npmjs.org/:_authToken=', s(FAKE.npmToken, 'npm-token'), '\n'],
  pypi: ['$ cat ~/.pypirc\n[pypi]\n  username = __token__\n  password = ', s(FAKE.pypiToken, 'pypi-token'), '\n'],
  googleApiKey: ['$ echo $MAPS_KEY\n', s(FAKE.googleApiKey, 'google-api-key'), '\n'],
};
const CASE_NAMES = Object.keys(CORPUS);

// ---------------------------------------------------------------------------------------------
// The terminal stream: a list of items, each a printable character (which cell it ends up in
// is a secret's or not), a control character, or an escape sequence. The expected recording is
// the same list with every printable character written into a secret's cell as "*".

type Item =
  | { readonly kind: 'print'; readonly text: string; secret: boolean; readonly wrapSpace?: true }
  | { readonly kind: 'control'; readonly text: string }
  | { readonly kind: 'escape'; readonly text: string };

const print = (text: string, secret = false): Item => ({ kind: 'print', text, secret });
const control = (text: string): Item => ({ kind: 'control', text });
const escape = (text: string): Item => ({ kind: 'escape', text });

/** Splits terminal text into items (escape sequences whole, code points whole). */
function itemsOf(text: string, secret = false): Item[] {
  const items: Item[] = [];
  let last = 0;
  const plain = (from: number, to: number): void => {
    for (const ch of text.slice(from, to)) items.push(ch.codePointAt(0)! < 0x20 ? control(ch) : print(ch, secret));
  };
  for (const m of text.matchAll(ESCAPE)) {
    plain(last, m.index);
    items.push(escape(m[0]));
    last = m.index + m[0].length;
  }
  plain(last, text.length);
  return items;
}

function caseItems(parts: readonly CasePart[]): Item[] {
  return parts.flatMap((part) => (typeof part === 'string' ? itemsOf(part) : itemsOf(part.secret, true)));
}

const SGR = ['\x1b[31m', '\x1b[0m', '\x1b[1;32m', '\x1b[38;5;208m', '\x1b[m', '\x1b[4m', '\x1b[39;49m'];

interface Transforms {
  /** Secret characters (index modulo the secret's length) that get an SGR colour code before them. */
  readonly colourInToken: readonly number[];
  /** Characters of the case (modulo its length) typed wrong first, then corrected with `\b \b`. */
  readonly echoCorrections: readonly number[];
  /** The case arrives one character per chunk, as an echo of typed keys does. */
  readonly echoPerKey: boolean;
  /** Readline's soft wrap where a line reaches the 80th column. */
  readonly wrap: 'none' | '\r\n' | ' \r';
  readonly crlf: boolean;
  /** Chunk sizes, cycled (empty: one chunk). */
  readonly chunks: readonly number[];
  /** Also cut inside every escape sequence and every surrogate pair. */
  readonly cutInside: boolean;
}

/** Applies the transformations and returns the items and where the chunks are cut. */
function terminalStream(
  parts: readonly CasePart[],
  noiseBefore: readonly string[],
  noiseAfter: readonly string[],
  t: Transforms,
): { items: Item[]; chunks: string[] } {
  const before = noiseBefore.flatMap((line) => itemsOf(line + '\n'));
  let body = caseItems(parts);
  const after = noiseAfter.flatMap((line) => itemsOf(line + '\n'));

  // Colour codes inside the tokens.
  const secretPositions = body.flatMap((item, i) => (item.kind === 'print' && item.secret ? [i] : []));
  const colourBefore = new Set(t.colourInToken.map((k) => secretPositions[k % secretPositions.length]!));
  body = body.flatMap((item, i) => (colourBefore.has(i) ? [escape(SGR[i % SGR.length]!), item] : [item]));

  const bodyPrintables = body.flatMap((item, i) => (item.kind === 'print' ? [i] : []));
  const corrections = new Set(t.echoCorrections.map((k) => bodyPrintables[k % bodyPrintables.length]!));

  // CRLF line endings, echo corrections and readline's wrap, with the cursor column followed.
  const out: Item[] = [];
  const bodyStart = before.length;
  let bodyFrom = -1;
  let bodyTo = -1;
  let col = 0;
  const all = [...before, ...body, ...after];
  all.forEach((item, index) => {
    if (index === bodyStart) bodyFrom = out.length;
    if (item.kind === 'control') {
      if (item.text === '\n' && t.crlf) out.push(control('\r'));
      out.push(item);
      if (item.text === '\n' || item.text === '\r') col = 0;
      else if (item.text === '\b') col = Math.max(0, col - 1);
    } else if (item.kind === 'escape') {
      out.push(item);
    } else {
      const w = cellWidth(item.text.codePointAt(0)!);
      if (col + w > COLS) col = 0; // the terminal wraps by itself (pending wrap, or a wide character at the margin)
      const inBody = index >= bodyStart && index < bodyStart + body.length;
      // A wrong key, erased with `\b \b`: never where it would reach the margin.
      if (inBody && corrections.has(index - bodyStart) && w === 1 && col + 1 < COLS) {
        const wrong = item.text === 'q' ? 'z' : 'q';
        out.push(print(wrong, item.secret), control('\b'), print(' ', item.secret), control('\b'));
      }
      out.push(item);
      col += w;
      if (col === COLS && t.wrap !== 'none') {
        if (t.wrap === '\r\n') out.push(control('\r'), control('\n'));
        else out.push({ kind: 'print', text: ' ', secret: false, wrapSpace: true }, control('\r'));
        col = 0;
      }
    }
    if (index === bodyStart + body.length - 1) bodyTo = out.length;
  });

  // Readline's " \r" wrap: the space lands in the next row's first cell, which the next
  // character then overwrites; it is a secret's cell when that character is a secret's.
  let nextSecret = false;
  for (let i = out.length - 1; i >= 0; i--) {
    const item = out[i]!;
    if (item.kind === 'print') {
      if (item.wrapSpace) item.secret = nextSecret;
      else nextSecret = item.secret;
    } else if (item.kind === 'control' && item.text === '\n') {
      nextSecret = false;
    }
  }

  // Chunk boundaries.
  const raw = out.map((item) => item.text).join('');
  const cuts = new Set<number>();
  if (t.chunks.length > 0) {
    for (let at = 0, k = 0; at < raw.length; k++) {
      at += t.chunks[k % t.chunks.length]!;
      cuts.add(at);
    }
  }
  let offset = 0;
  out.forEach((item, i) => {
    const inside = t.cutInside && (item.kind === 'escape' || item.text.length === 2);
    if (inside) cuts.add(offset + Math.max(1, Math.floor(item.text.length / 2)));
    if (t.echoPerKey && i >= bodyFrom && i < bodyTo) cuts.add(offset);
    offset += item.text.length;
  });
  const sorted = [...cuts].filter((c) => c > 0 && c < raw.length).sort((a, b) => a - b);
  const chunks: string[] = [];
  let last = 0;
  for (const cut of [...sorted, raw.length]) {
    chunks.push(raw.slice(last, cut));
    last = cut;
  }
  return { items: out, chunks };
}

function expectedRecording(items: readonly Item[]): string {
  return items
    .map((item) => (item.kind === 'print' && item.secret ? '*'.repeat(cellWidth(item.text.codePointAt(0)!)) : item.text))
    .join('');
}

// Surrounding terminal text: words, ls lines (coloured or not), prompts, window titles, progress
// lines redrawn with \r, and non-ASCII (accents, CJK, emoji: surrogate pairs).
const WORDS = [
  'build', 'deploy', 'cache', 'node', 'main', 'ok', 'done', 'warning:', 'the', 'quick', 'brown', 'fox', 'jumps',
  'over', 'lazy', 'dog', 'server', 'listening', 'on', 'port', '8080', 'GET', '/api/v1/users', '200', 'in', '12ms',
  'commit', 'merged', 'branch', 'feature/search', 'café', 'naïve', '日本語', '🚀', '✓', 'résumé', '—', '(cached)',
];
const NAMES = ['README.md', 'src', 'package.json', 'node_modules', 'Makefile', 'notes.txt', 'build', '.env.example', 'docs', 'main.go'];

const noiseLine: fc.Arbitrary<string> = fc.oneof(
  fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 24 }).map((words) => words.join(' ')),
  fc
    .tuple(fc.constantFrom('-rw-r--r--', '-rwxr-xr-x', 'drwxr-xr-x'), fc.nat({ max: 99_999 }), fc.constantFrom(...NAMES), fc.boolean())
    .map(([mode, size, name, colour]) => {
      const shown = colour && mode.startsWith('d') ? `\x1b[01;34m${name}\x1b[0m` : colour ? `\x1b[32m${name}\x1b[0m` : name;
      return `${mode}  1 admin staff ${String(size).padStart(6)} Mar  3 10:12 ${shown}`;
    }),
  fc.constantFrom('~/src', '/etc/nginx', '~').map((dir) => `\x1b]0;admin@host: ${dir}\x07\x1b[32madmin@host\x1b[0m:\x1b[34m${dir}\x1b[0m$ ls -la`),
  fc.nat({ max: 100 }).map((p) => `downloading ${Math.floor(p / 3)}%\rdownloading ${p}%\x1b[K`),
  fc.constant(''),
);

const transforms: fc.Arbitrary<Transforms> = fc.record({
  colourInToken: fc.array(fc.nat({ max: 400 }), { maxLength: 6 }),
  echoCorrections: fc.array(fc.nat({ max: 400 }), { maxLength: 6 }),
  echoPerKey: fc.boolean(),
  wrap: fc.constantFrom<Transforms['wrap']>('none', '\r\n', ' \r'),
  crlf: fc.boolean(),
  chunks: fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 4096 })), { maxLength: 40 }),
  cutInside: fc.boolean(),
});

const scenario = fc.record({
  caseName: fc.constantFrom(...CASE_NAMES),
  noiseBefore: fc.array(noiseLine, { maxLength: 12 }),
  noiseAfter: fc.array(noiseLine, { maxLength: 12 }),
  transforms,
});

/** The property, checked on one scenario; throws an assertion naming what broke. */
function checkScenario(caseName: string, noiseBefore: readonly string[], noiseAfter: readonly string[], t: Transforms): void {
  const parts = CORPUS[caseName]!;
  const secrets = parts.filter((part): part is SecretPart => typeof part !== 'string');
  const { items, chunks } = terminalStream(parts, noiseBefore, noiseAfter, t);
  const input = chunks.join('');
  const recording = recordOutput(chunks);
  const recorded = recording.text;
  assert.equal(recording.redactor.holding, false, 'nothing is held after end()');

  // (a) Neither a secret nor any 5-character piece of it is recorded: not in the raw text, not
  // with escape sequences stripped, not on the screen a replay shows.
  const views = { raw: recorded, stripped: stripEscapes(recorded), screen: renderVisible(recorded, COLS).text };
  for (const { secret } of secrets) {
    for (const fragment of fragments(secret)) {
      for (const [where, text] of Object.entries(views)) {
        assert.ok(!text.includes(fragment), `${caseName}: ${JSON.stringify(fragment)} of the secret is in the ${where} recording`);
      }
    }
  }

  // (b) Nothing else changes: the recording is the input with exactly the printable characters
  // written into the secrets' cells replaced by one "*" per cell.
  const expected = expectedRecording(items);
  if (recorded !== expected) assert.fail(`${caseName}: the recording is not the input with the secret's cells masked; ${firstDifference(recorded, expected)}`);

  // (c) Every escape sequence of the input, unchanged and in order.
  assert.deepEqual(escapesOf(recorded), escapesOf(input), `${caseName}: escape sequences changed`);

  // (d) A marker per secret, naming its rule and its keyed fingerprint, and none holding a piece of it.
  for (const { secret, rules } of secrets) {
    const labels = rules.map((rule) => redactionMarker(rule, fingerprint(KEY, secret)));
    assert.ok(
      recording.markers.some((marker) => labels.includes(marker)),
      `${caseName}: no marker ${labels.join(' or ')} among ${JSON.stringify(recording.markers)}`,
    );
    // The rule id is public (`pypi-token` shares `pypi-` with every PyPI token); the rest must hold nothing.
    for (const marker of recording.markers) {
      const parsed = parseMarker(marker);
      assert.ok(parsed?.kind === 'redacted' && CATEGORY.has(parsed.ruleId), `${caseName}: ${marker} is not a redaction marker of a known rule`);
      for (const fragment of fragments(secret)) {
        assert.ok(!parsed.fingerprint.includes(fragment), `${caseName}: marker ${marker} holds ${JSON.stringify(fragment)}`);
      }
    }
  }
}

const NO_TRANSFORM: Transforms = {
  colourInToken: [],
  echoCorrections: [],
  echoPerKey: false,
  wrap: 'none',
  crlf: false,
  chunks: [],
  cutInside: false,
};

describe('StreamRedactor: no secret survives a terminal stream, nothing else changes', () => {
  for (const caseName of CASE_NAMES) {
    it(`${caseName}: as one chunk, and under every transformation at once`, () => {
      checkScenario(caseName, ['build ok'], ['done'], NO_TRANSFORM);
      checkScenario(caseName, ['build ok'], ['done'], {
        colourInToken: [1, 7, 19],
        echoCorrections: [0, 3, 11, 40],
        echoPerKey: true,
        wrap: ' \r',
        crlf: true,
        chunks: [1, 3, 7, 2],
        cutInside: true,
      });
    });
  }

  it('for every case under random chunking (1 B to 4 KiB), colour inside tokens, echo with backspaces, soft wrap and CRLF, alone and combined', () => {
    fc.assert(
      fc.property(scenario, ({ caseName, noiseBefore, noiseAfter, transforms: t }) => {
        checkScenario(caseName, noiseBefore, noiseAfter, t);
      }),
      { numRuns: Number(process.env.STREAM_RUNS ?? 400), includeErrorInReport: true },
    );
  });
});

// ---------------------------------------------------------------------------------------------

const textOf = (pieces: readonly RedactedPiece[]): string => pieces.flatMap((p) => (p.kind === 'text' ? [p.text] : [])).join('');
const markersOf = (pieces: readonly RedactedPiece[]): string[] => pieces.flatMap((p) => (p.kind === 'marker' ? [p.label] : []));
const markerFor = (rule: string, secret: string): string => redactionMarker(rule, fingerprint(KEY, secret));

function splitEvery(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const LS = [
  'total 48',
  'drwxr-xr-x  6 admin staff   192 Mar  3 10:12 \x1b[01;34m.\x1b[0m',
  '-rw-r--r--  1 admin staff  2048 Mar  3 10:12 notes.txt',
  '-rw-r--r--  1 admin staff   811 Mar  3 10:12 values.yaml',
  '-rwxr-xr-x  1 admin staff 10240 Mar  3 10:12 \x1b[32mdeploy.sh\x1b[0m',
].join('\r\n') + '\r\n';

describe('StreamRedactor: holding back', () => {
  it('releases plain output at once: ls output is never held', () => {
    const redactor = newRedactor();
    assert.deepEqual(redactor.output(LS), [{ kind: 'text', text: LS }]);
    assert.equal(redactor.holding, false);
  });

  it('holds no more of a prompt than a keyword start and the context its rule reads before it', () => {
    // The trailing space could begin ` login`, whose rule reads `docker` before it (16 characters).
    const redactor = newRedactor();
    const prompt = '\x1b]0;admin@host: ~\x07\x1b[32madmin@host\x1b[0m:~$ ';
    const released = textOf(redactor.output(prompt));
    assert.ok(prompt.startsWith(released) && stripEscapes(prompt).length - stripEscapes(released).length <= 17, JSON.stringify(released));
    assert.equal(released + textOf(redactor.idle()), prompt);
  });

  it('holds a line naming password.txt only while the rule window is open, and releases it unchanged', () => {
    const redactor = newRedactor();
    const listing = '-rw-r--r--  1 admin staff  2048 Mar  3 10:12 password.txt\r\n';
    const released = redactor.output(listing);
    assert.equal(redactor.holding, true, 'a `password` keyword opens a window: what follows may be its value');
    assert.equal(textOf([...released, ...redactor.idle()]), listing);
    assert.equal(redactor.holding, false);
  });

  it('holds a token split across chunks until it is whole, then masks it', () => {
    const redactor = newRedactor();
    const token = FAKE.githubPat;
    const first = redactor.output('$ echo ' + token.slice(0, 10));
    assert.ok(!textOf(first).includes(token.slice(0, 5)), 'the start of the token is not released');
    assert.equal(redactor.holding, true);
    const second = redactor.output(token.slice(10, 30));
    const third = redactor.output(token.slice(30) + '\r\n');
    // The rule's window (256 characters after `ghp_`) is still open: the line waits for idle().
    const pieces = [...first, ...second, ...third, ...redactor.idle()];
    assert.equal(textOf(pieces), '$ echo ' + '*'.repeat(token.length) + '\r\n');
    assert.deepEqual(markersOf(pieces), [markerFor('github-token', token)]);
    assert.equal(redactor.holding, false);
  });

  it('idle() releases a held tail, masking a complete secret in it', () => {
    const redactor = newRedactor();
    const token = FAKE.stripeLive;
    const released = redactor.output('$ echo ' + token);
    assert.equal(redactor.holding, true, 'a trailing token could still grow');
    const idle = redactor.idle();
    assert.equal(textOf([...released, ...idle]), '$ echo ' + '*'.repeat(token.length));
    assert.deepEqual(markersOf(idle), [markerFor('stripe-key', token)]);
    assert.equal(redactor.holding, false);
    assert.deepEqual(redactor.idle(), []);
  });

  it('a secret typed slowly: what follows a pause continues the masked part and is masked too, counted once', () => {
    const redactor = newRedactor();
    const password = FAKE.password;
    const cut = 6;
    // Echoed key by key; the admin pauses after six characters of the password.
    const before = [...redactor.output('$ mysql -u root -p'), ...redactor.output(password.slice(0, cut))];
    const atPause = redactor.idle();
    const after = [...redactor.output(password.slice(cut)), ...redactor.output(' app\r\n')];
    const pieces = [...before, ...atPause, ...after];
    assert.equal(textOf(pieces), '$ mysql -u root -p' + '*'.repeat(password.length) + ' app\r\n');
    assert.deepEqual(redactor.counts(), { assignment: 1 });
    // And in the keys: the input line flushed at the pause, then the rest typed.
    const keys = newRedactor();
    const typed = [...keys.input('mysql -u root -p' + password.slice(0, cut)), ...keys.flushInput(), ...keys.input(password.slice(cut) + ' app\r')];
    assert.equal(textOf(typed), 'mysql -u root -p' + '*'.repeat(password.length) + ' app\r');
    // Nothing is continued once a blank ends the secret.
    const later = newRedactor();
    const plain = [...later.output('$ mysql -u root -p' + password.slice(0, cut)), ...later.idle(), ...later.output(' app\r\nready\r\n')];
    assert.equal(textOf(plain), '$ mysql -u root -p' + '*'.repeat(cut) + ' app\r\nready\r\n');
  });

  it('releases everything once the held text passes HOLD_LIMIT (an OSC string that never ends)', () => {
    const redactor = newRedactor();
    let fed = 0;
    let released = 0;
    let forced = false;
    for (const chunk of ['\x1b]0;', ...splitEvery('x'.repeat(HOLD_LIMIT + 8192), 1024)]) {
      fed += chunk.length;
      released += textOf(redactor.output(chunk)).length;
      assert.ok(fed - released <= HOLD_LIMIT, `${fed - released} units held, more than HOLD_LIMIT`);
      forced ||= released > 0;
    }
    assert.ok(forced, 'the unfinished sequence was released by the size bound');
  });

  it('masks a PEM private key arriving line by line over many chunks, BEGIN to END, under one marker', () => {
    const key = FAKE.opensshKey;
    const lines = key.split('\n');
    const command = '$ cat ~/.ssh/id_ed25519\r\n';
    const chunks = [command, ...lines.flatMap((line) => splitEvery(line + '\r\n', 7)), '$ '];
    const redactor = newRedactor();
    const text: string[] = [];
    const markers: string[] = [];
    for (const chunk of chunks) {
      const pieces = redactor.output(chunk);
      for (const line of lines) assert.ok(!textOf(pieces).includes(line.slice(0, 10)), `${JSON.stringify(line.slice(0, 10))} released`);
      collect(pieces, text, markers);
    }
    collect(redactor.end(), text, markers);
    assert.equal(text.join(''), command + lines.map((line) => '*'.repeat(line.length)).join('\r\n') + '\r\n$ ');
    assert.deepEqual(markers, [markerFor('private-key-block', key)]);
  });

  it('masks secrets in an OSC window title (shells put the command line there), also split across chunks', () => {
    const token = FAKE.randomKey;
    for (const terminator of ['\x07', '\x1b\\']) {
      const title = `\x1b]0;curl -H 'Authorization: Bearer ${token}'${terminator}`;
      const masked = `\x1b]0;curl -H 'Authorization: Bearer ${'*'.repeat(token.length)}'${terminator}`;
      for (const size of [1, 5, 4096]) {
        const recording = recordOutput([...splitEvery(title + '$ ', size)]);
        assert.equal(recording.text, masked + '$ ', `chunks of ${size}`);
        assert.deepEqual(recording.markers, [markerFor('authorization-header', token)]);
      }
    }
  });

  it('a CRLF at the margin is a soft wrap: a token wrapped there by readline is masked whole, also released in pieces', () => {
    // The token starts at column 70 and crosses the margin; readline wraps with "\r\n" there.
    const token = FAKE.githubPat;
    const prefix = '$ ' + 'x'.repeat(60) + ' echo '.padEnd(8);
    const line = prefix + token.slice(0, COLS - prefix.length) + '\r\n' + token.slice(COLS - prefix.length) + '\r\n';
    for (const size of [1, 3, 64, 4096]) {
      const recording = recordOutput(splitEvery(line, size));
      assert.equal(recording.text, prefix + '*'.repeat(COLS - prefix.length) + '\r\n' + '*'.repeat(token.length - (COLS - prefix.length)) + '\r\n', `chunks of ${size}`);
      assert.deepEqual(recording.markers, [markerFor('github-token', token)]);
    }
  });
  // A row exactly `cols` wide followed by CRLF reads two ways (line-view.ts): readline's margin
  // wrap, and an 80-column output line. In the soft reading `xxx…xghp_…` has no word boundary
  // before `ghp_`; the hard reading finds it.
  it('a secret on the line after an output line exactly 80 columns wide (CRLF) is masked', () => {
    for (const [secret, rule] of [[FAKE.githubPat, 'github-token'], [FAKE.awsAccessKeyId, 'aws-access-key-id']] as const) {
      for (const before of ['x'.repeat(COLS), 'x'.repeat(COLS - 10) + '\b\b' + 'yy' + 'x'.repeat(10)]) {
        // In one chunk, and with the full row released before the secret arrives.
        for (const chunks of [[before + '\r\n' + secret + '\r\ndone\r\n'], [before + '\r\n', secret + '\r\ndone\r\n']]) {
          const recording = recordOutput(chunks);
          assert.equal(recording.text, before + '\r\n' + '*'.repeat(secret.length) + '\r\ndone\r\n', JSON.stringify(chunks));
          assert.deepEqual(recording.markers, [markerFor(rule, secret)]);
        }
      }
    }
  });
});

describe('StreamRedactor: input, assembled per line', () => {
  it('masks a token pasted at a prompt (one input chunk, bracketed paste) and releases it on Enter', () => {
    const redactor = newRedactor();
    const token = FAKE.githubPat;
    assert.deepEqual(redactor.input(`\x1b[200~${token}\x1b[201~`), [], 'held until Enter');
    assert.equal(redactor.holding, true);
    const pieces = redactor.input('\r');
    assert.equal(textOf(pieces), `\x1b[200~${'*'.repeat(token.length)}\x1b[201~\r`);
    assert.deepEqual(markersOf(pieces), [markerFor('github-token', token)]);
    assert.equal(redactor.holding, false);
  });

  it('masks a token typed key by key with DEL corrections, the mistyped keys too', () => {
    const redactor = newRedactor();
    const token = FAKE.npmToken;
    const keys: string[] = [...'echo '];
    [...token].forEach((ch, i) => {
      if (i % 7 === 3) keys.push('x', '\x7f');
      keys.push(ch);
    });
    const pieces = keys.flatMap((key) => redactor.input(key));
    assert.deepEqual(pieces, [], 'nothing is released before Enter');
    const line = redactor.input('\r');
    const typed = keys.join('');
    const expected = 'echo ' + typed.slice(5).replace(/[^\x7f]/g, '*') + '\r';
    assert.equal(textOf(line), expected);
    assert.deepEqual(markersOf(line), [markerFor('npm-token', token)]);
  });

  it('releases an unfinished input line on flushInput() (at idle), masked', () => {
    const redactor = newRedactor();
    assert.deepEqual(redactor.input('DB_PASSWORD=' + FAKE.password), []);
    assert.deepEqual(redactor.idle(), [], 'idle() releases output only: input is recorded as input');
    const pieces = redactor.flushInput();
    assert.equal(textOf(pieces), 'DB_PASSWORD=' + '*'.repeat(FAKE.password.length));
    assert.deepEqual(markersOf(pieces), [markerFor('secret-assignment', FAKE.password)]);
  });
});

describe('StreamRedactor: counts', () => {
  it('counts redactions by category, output and input alike', () => {
    const redactor = newRedactor();
    const chunks = [
      `$ gh auth token\r\n${FAKE.githubPat}\r\n`,
      `$ cat .env\r\nDB_PASSWORD=${FAKE.password}\r\n`,
      `$ cat id_rsa\r\n${FAKE.rsaKey.replaceAll('\n', '\r\n')}\r\n`,
      `$ printenv APP_PASS\r\n${KNOWN_SECRET}\r\n`,
      `$ cat session\r\n${FAKE.jwt}\r\n`,
    ];
    for (const chunk of chunks) redactor.output(chunk);
    redactor.input(`curl -H 'Authorization: Bearer ${FAKE.randomKey}'\r`);
    redactor.end();
    assert.deepEqual(redactor.counts(), {
      'provider-token': 1,
      assignment: 1,
      'private-key': 1,
      'known-secret': 1,
      jwt: 1,
      'auth-header': 1,
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('StreamRedactor: throughput (reported, not asserted)', () => {
  /** About `megabytes` MB of terminal output: ls, logs, git, compiler and JSON lines, coloured in part, CRLF. */
  function terminalCorpus(megabytes: number, secretEvery: number): { text: string; secrets: string[] } {
    const r = fakeRandom(99);
    const pool: string[] = [];
    for (let i = 0; i < 500; i++) {
      switch (i % 6) {
        case 0:
          pool.push(`-rw-r--r--  1 admin staff ${String(i * 37).padStart(6)} Mar  3 10:${String(i % 60).padStart(2, '0')} file-${i}.txt`);
          break;
        case 1:
          pool.push(`drwxr-xr-x  4 admin staff    128 Mar  3 10:12 \x1b[01;34mdir-${i}\x1b[0m`);
          break;
        case 2:
          pool.push(`2025-03-03T10:12:${String(i % 60).padStart(2, '0')}Z INFO  http: GET /api/v1/users/${i} 200 in ${i % 97}ms (request id ${r(8).toLowerCase()})`);
          break;
        case 3:
          pool.push(`\x1b[33mcommit ${r(40, '0123456789abcdef')}\x1b[0m Merge branch 'feature/search-${i}' into main`);
          break;
        case 4:
          pool.push(`src/module-${i}.ts(${i % 300},${i % 40}): warning TS6133: 'value' is declared but its value is never read.`);
          break;
        default:
          pool.push(`{"level":"info","ts":1700000${i},"msg":"reconciled","namespace":"prod","pod":"web-7d9f8b6c5d-x2x7q","took":"${i % 50}ms"}`);
      }
    }
    const secrets = [FAKE.githubPat, FAKE.stripeLive, FAKE.npmToken, FAKE.slackBot, FAKE.googleApiKey];
    const lines: string[] = [];
    const used: string[] = [];
    let size = 0;
    for (let i = 0; size < megabytes * 1024 * 1024; i++) {
      let line = pool[(i * 7919) % pool.length]!;
      if (secretEvery > 0 && i % secretEvery === secretEvery - 1) {
        const secret = secrets[i % secrets.length]!;
        used.push(secret);
        line = `$ echo $TOKEN_${i % 5}\r\n${secret}`;
      }
      lines.push(line);
      size += line.length + 2;
    }
    return { text: lines.join('\r\n') + '\r\n', secrets: used };
  }

  for (const [label, secretEvery] of [['no secrets', 0], ['one secret per 100 lines', 100]] as const) {
    it(`output() on 20 MB of terminal text, ${label}`, (t) => {
      const { text, secrets } = terminalCorpus(20, secretEvery);
      const redactor = newRedactor();
      const out: string[] = [];
      const started = performance.now();
      for (let i = 0; i < text.length; i += 16 * 1024) out.push(textOf(redactor.output(text.slice(i, i + 16 * 1024))));
      out.push(textOf(redactor.end()));
      const seconds = (performance.now() - started) / 1000;
      const mb = text.length / (1024 * 1024);
      t.diagnostic(`${label}: ${mb.toFixed(1)} MB in ${seconds.toFixed(2)} s = ${(mb / seconds).toFixed(1)} MB/s (16 KiB chunks)`);
      const recorded = out.join('');
      for (const secret of new Set(secrets)) assert.ok(!recorded.includes(secret.slice(0, 12)), 'a secret went through');
      if (secretEvery === 0) assert.equal(recorded, text);
    });
  }
});

describe('StreamRedactor: keys and their echo', () => {
  it('a token echoed key by key is not released one key at a time before each next key', () => {
    const redactor = newRedactor();
    const token = FAKE.githubPat;
    let recorded = textOf(redactor.output('done\r\n$ '));
    for (const key of token) {
      recorded += textOf(redactor.releaseOutput()); // what the pipeline does before recording each key
      recorded += textOf(redactor.output(key)); // the echo
    }
    recorded += textOf(redactor.output('\r\n'));
    recorded += textOf(redactor.end());
    assert.ok(!recorded.includes(token.slice(0, 8)), recorded);
    assert.ok(recorded.includes('*'.repeat(token.length)), recorded);
  });
});
