/**
 * End to end (issue 3, "Tests"): a recorded session that cats a file of
 * secrets, prints a Kubernetes Secret as YAML, logs in over ssh to a real sshd
 * on loopback and types the password at ssh's prompt and at a real remote
 * `sudo` prompt. Then every file the recorder wrote (spool leftovers, the
 * bundle and each of its entries, keys) is searched: no secret, and no piece
 * of one longer than 4 characters, may be in any of them.
 *
 * Needs root and openssh-server (see support/sshd.ts); skips with the reason
 * otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { nodeSuite } from '../recorder/index.ts';
import { HIDDEN_INPUT_COUNT } from '../shared/redaction/policy.ts';
import { parseMarker } from '../shared/redaction/markers.ts';
import { FAKE, fakeRandom } from '../shared/redaction/rules/samples.test-support.ts';
import { readRecording, readZip, verifyBundle, type VerifyReport } from '../shared/bundle/index.ts';
import { PROMPT, RecorderFixture, makeTempDir, removeDir, type RecordedBundle, type SessionStep } from './support/recording.ts';
import { sshdUnavailable, startSshd, type RunningSshd } from './support/sshd.ts';

/** A piece of a secret this long or longer must appear nowhere (issue 3: "no fragment longer than 4 characters"). */
const FRAGMENT = 5;
/** Each wait of the session (ssh login and sudo take a moment on a loaded machine). */
const WAIT_MS = 30_000;
/** The remote shell's prompt, set once logged in so that the steps can wait for it. */
const REMOTE_PROMPT = 'remote-e2e$ ';
/** A person reads what a command printed before typing the next one (and the redactor's idle release gets its turn). */
const READ_MS = 400;

const skipReason = sshdUnavailable();
let sshd: RunningSshd | undefined;
let fixture: RecorderFixture | undefined;
let scratch: string | undefined;
let recorded: RecordedBundle;
/** Every secret of the session, by name: what must not be recorded. */
let secrets: Map<string, string>;
/** Every file under the recorder's data dir, and every bundle entry, as text (see `filesAsText`). */
let written: TextView[];
/** Spool files as read while the session ran (the spool is removed once the bundle is packed). */
let spool: Map<string, Uint8Array>;
let report: VerifyReport;
let recordingMs = 0;

const rnd = fakeRandom(0x0c05_7d1e);
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** Types `text` one key at a time, as a person does. */
function typed(text: string): SessionStep[] {
  return [...text].map((key) => ({ input: key, pauseMs: 3 }));
}

/** Each piece of `secret` of `length` characters; any longer piece contains one of them. */
function fragmentsOf(secret: string, length = FRAGMENT): string[] {
  const out = new Set<string>();
  for (let i = 0; i + length <= secret.length; i++) out.add(secret.slice(i, i + length));
  return [...out];
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort();
}

/**
 * Fields whose values are cryptographic: SHA-256 digests and Merkle roots,
 * Ed25519 signatures and keys, key ids, the redaction key. They are outputs of
 * one-way functions or random key material (verifyBundle checks the bundle's),
 * printed as base64 or hex, so a 5-character piece of a base64 secret turns up
 * in them by chance (about one in 64^5 per position: with a few KiB of them and
 * several hundred pieces, a flaky test). They are searched for pieces of
 * LONG_FRAGMENT characters instead, which no chance match reaches.
 */
const CRYPTO_JSON_FIELDS = /"(sig|keyid|keyId|seed|publicKey|devicePublicKey|key|root|sha256)"(\s*:\s*)"[^"]*"/g;
/** checkpoints.notes (signed-note format): the root hash line, `prev <hash>`, and `— <key name> <signature>`. */
const NOTE_HASH_LINE = /^(prev |— \S+ )?[A-Za-z0-9+/]{40,}={0,2}$/gm;
/** The keyed fingerprint of a redaction marker (an HMAC): `<keyId>:<32 hex>`. */
const MARKER_FINGERPRINT = /\b([a-z0-9]+(?:-[a-z0-9]+)*):[0-9a-f]{32}\b/g;
/** A piece this long is searched for even inside cryptographic values (64^8: no chance match). */
const LONG_FRAGMENT = 8;

function withoutCryptoValues(text: string, where: string): string {
  const masked = text.replace(CRYPTO_JSON_FIELDS, '"$1"$2"<crypto value>"').replace(MARKER_FINGERPRINT, '$1:<fingerprint>');
  return where.endsWith('.notes') ? masked.replace(NOTE_HASH_LINE, '$1<crypto value>') : masked;
}

interface TextView {
  readonly where: string;
  readonly text: string;
  /** Whole file bytes as text, cryptographic values included: searched for LONG_FRAGMENT pieces. */
  readonly raw: boolean;
}

/**
 * The text views of one file (or zip entry): its bytes as UTF-8 and as
 * Latin-1, whole (so that no byte sequence hides a secret); its text with the
 * cryptographic values set aside (see CRYPTO_JSON_FIELDS); every JSON string
 * in it decoded (an asciicast line holds output as JSON strings, `\u001b` and
 * all); the payload of a DSSE envelope decoded from base64; and the entries of
 * a zip (the bundle), each the same way.
 */
function textViews(where: string, bytes: Uint8Array): TextView[] {
  const utf8Text = Buffer.from(bytes).toString('utf8');
  const views: TextView[] = [
    { where, text: utf8Text, raw: true },
    { where: `${where} (latin1)`, text: Buffer.from(bytes).toString('latin1'), raw: true },
  ];
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
    for (const [name, entry] of readZip(bytes)) views.push(...textViews(`${where}!${name}`, entry));
    return views;
  }
  // A DSSE payload is base64 of JSON: searched decoded, as the text it is (its base64 shares
  // 5-character pieces with the base64 of any JSON, a JWT's included).
  const payloads: string[] = [];
  const text = withoutCryptoValues(
    utf8Text.replace(/"payload"(\s*:\s*)"([A-Za-z0-9+/=]*)"/g, (_, colon: string, payload: string) => {
      payloads.push(payload);
      return `"payload"${colon}"<decoded below>"`;
    }),
    where,
  );
  views.push({ where: `${where} (text)`, text, raw: false });
  for (const payload of payloads) views.push(...textViews(`${where} (DSSE payload)`, new Uint8Array(Buffer.from(payload, 'base64'))));
  const strings: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === 'string') strings.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        strings.push(key);
        if (key !== 'payload') collect(inner);
      }
    }
  };
  for (const line of text.split('\n')) {
    try {
      collect(JSON.parse(line));
    } catch {
      // not a JSON line (notes, PEM, …): its plain text is searched already
    }
  }
  try {
    collect(JSON.parse(text));
  } catch {
    // not one JSON document
  }
  if (strings.length > 0) views.push({ where: `${where} (JSON strings)`, text: withoutCryptoValues(strings.join('\n'), where), raw: false });
  return views;
}

/**
 * The spool is removed once the bundle is packed, so it is read while the
 * session runs: the latest content of every file under `<data>/spool`.
 */
function watchSpool(dataDir: string): { stop(): Promise<Map<string, Uint8Array>> } {
  const seen = new Map<string, Uint8Array>();
  let busy: Promise<void> = Promise.resolve();
  const read = async (): Promise<void> => {
    let files: string[];
    try {
      files = await filesUnder(join(dataDir, 'spool'));
    } catch {
      return; // not created yet, or already removed
    }
    for (const file of files) {
      try {
        const bytes = new Uint8Array(await readFile(file));
        const before = seen.get(file);
        if (before === undefined || bytes.length >= before.length) seen.set(file, bytes);
      } catch {
        // removed between the listing and the read
      }
    }
  };
  const timer = setInterval(() => {
    busy = busy.then(read);
  }, 50);
  return {
    async stop() {
      clearInterval(timer);
      await busy;
      return seen;
    },
  };
}

function recordedEvents(): ReturnType<typeof readRecording>['events'] {
  return readRecording(recorded.bytes).events;
}

function skipped(t: TestContext): boolean {
  if (skipReason === undefined) return false;
  t.skip(skipReason);
  return true;
}

before(async () => {
  if (skipReason !== undefined) return;
  sshd = await startSshd();
  fixture = await RecorderFixture.start();
  scratch = await makeTempDir('redaction-e2e');

  // Fake secrets of real formats, built at run time (no token sits in this file as a literal).
  const dbPassword = ['pg', rnd(14)].join('-');
  const apiToken = rnd(32);
  const k8sDbPassword = ['Kp', rnd(18)].join('');
  const k8sApiKey = rnd(40);
  // A real private key, made for this run: its body is random, so nothing else can contain it.
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(scratch, 'deploy-key.pem')]);
  const pem = await readFile(join(scratch, 'deploy-key.pem'), 'utf8');
  // PKCS#8 for Ed25519 is 16 fixed bytes (the algorithm's DER header, 21 base64 characters, the
  // same in every such key) and then the 32-byte seed: the seed is the secret.
  const pemSeed = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '').slice(21);
  // A JWT's first part is its JOSE header, {"alg":"HS256","typ":"JWT"} in every such token; the
  // claims and the signature are what make it this token.
  const jwtClaimsAndSignature = FAKE.jwt.slice(FAKE.jwt.indexOf('.') + 1);
  secrets = new Map([
    ['GitHub token', FAKE.githubPat],
    ['AWS access key id', FAKE.awsAccessKeyId],
    ['AWS secret access key', FAKE.awsSecretKey],
    ['Slack bot token', FAKE.slackBot],
    ['Stripe live key', FAKE.stripeLive],
    ['JWT (claims and signature)', jwtClaimsAndSignature],
    ['PEM private key (seed)', pemSeed],
    ['DATABASE_URL password', dbPassword],
    ['API_TOKEN', apiToken],
    ['Kubernetes Secret data.password (base64)', b64(k8sDbPassword)],
    ['Kubernetes Secret data.password (decoded)', k8sDbPassword],
    ['Kubernetes Secret data.api-key (base64)', b64(k8sApiKey)],
    ['Kubernetes Secret data.api-key (decoded)', k8sApiKey],
    ['login and sudo password of the ssh user', sshd.password],
  ]);

  await writeFile(
    join(scratch, 'secrets.env'),
    [
      '# production credentials',
      `GITHUB_TOKEN=${FAKE.githubPat}`,
      '[default]',
      `aws_access_key_id = ${FAKE.awsAccessKeyId}`,
      `aws_secret_access_key = ${FAKE.awsSecretKey}`,
      `SLACK_BOT_TOKEN=${FAKE.slackBot}`,
      `STRIPE_KEY=${FAKE.stripeLive}`,
      `SESSION_JWT=${FAKE.jwt}`,
      `DATABASE_URL=postgres://app:${dbPassword}@db:5432/app`,
      `export API_TOKEN=${apiToken}`,
      '',
    ].join('\n'),
  );
  // No cluster here: this is what `kubectl get secret app-credentials -o yaml` prints for such a Secret.
  await writeFile(
    join(scratch, 'app-credentials.yaml'),
    [
      'apiVersion: v1',
      'data:',
      `  api-key: ${b64(k8sApiKey)}`,
      `  password: ${b64(k8sDbPassword)}`,
      'kind: Secret',
      'metadata:',
      '  creationTimestamp: "2025-01-07T10:21:33Z"',
      '  name: app-credentials',
      '  namespace: prod',
      '  resourceVersion: "48213"',
      '  uid: 5b0c7d0e-3f4a-4b6e-9a51-2c8d0f1e7a93',
      'type: Opaque',
      '',
    ].join('\n'),
  );

  const spoolWatch = watchSpool(fixture.dataDir);
  const started = performance.now();
  recorded = await fixture.record({
    timeoutMs: WAIT_MS,
    steps: [
      { waitFor: PROMPT },
      { input: `cat ${scratch}/secrets.env\r`, waitFor: 'export API_TOKEN=' },
      { waitFor: PROMPT, pauseMs: READ_MS },
      { input: `cat ${scratch}/deploy-key.pem\r`, waitFor: 'END PRIVATE KEY' },
      { waitFor: PROMPT, pauseMs: READ_MS },
      { input: `cat ${scratch}/app-credentials.yaml\r`, waitFor: 'type: Opaque' },
      { waitFor: PROMPT, pauseMs: READ_MS },
      {
        input:
          `ssh -p ${sshd.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ` +
          `-o PreferredAuthentications=password -o PubkeyAuthentication=no ${sshd.user}@127.0.0.1\r`,
        waitFor: "'s password: ",
      },
      // ssh reads the password from the local tty, echo off in line mode: the termios check hides it.
      ...typed(sshd.password),
      { input: '\r', waitFor: `${sshd.user}@` },
      { input: `export PS1='remote''-e2e$ '\r`, waitFor: REMOTE_PROMPT, pauseMs: READ_MS },
      // The hard case: sudo asks on the remote pty, the local one is raw under ssh, so only the
      // prompt detector and the absence of echo can tell that these keys are a password.
      { input: 'sudo -k; sudo id\r', waitFor: `[sudo] password for ${sshd.user}:` },
      ...typed(sshd.password),
      { input: '\r', waitFor: 'uid=0(root)' },
      { waitFor: REMOTE_PROMPT, pauseMs: READ_MS },
      { input: 'exit\r', waitFor: PROMPT },
      { input: 'exit\r' },
    ],
  });
  recordingMs = performance.now() - started;
  spool = await spoolWatch.stop();

  written = [];
  for (const [file, bytes] of spool) written.push(...textViews(`${relative(fixture.dataDir, file)} (read while recording)`, bytes));
  for (const file of await filesUnder(fixture.dataDir)) {
    written.push(...textViews(relative(fixture.dataDir, file), new Uint8Array(await readFile(file))));
  }
  report = verifyBundle(recorded.bytes, { suite: nodeSuite });
});

after(async () => {
  await fixture?.close();
  await sshd?.stop();
  if (scratch !== undefined) await removeDir(scratch);
});

test('the session ran: secrets were shown live, the ssh login and sudo worked', (t) => {
  if (skipped(t)) return;
  t.diagnostic(`recorded in ${Math.round(recordingMs)} ms; ${written.length} text views of the recorder's files searched`);
  assert.equal(recorded.exitCode, 0);
  // The display path is not redacted: the admin sees what they cat.
  // So the secrets were really printed (or typed): their absence from disk is redaction at work.
  for (const [name, secret] of secrets) {
    if (name.endsWith('(decoded)') || name.startsWith('login and sudo password')) continue; // never on screen
    assert.ok(recorded.output.includes(secret), `the live terminal shows the ${name} as it is`);
  }
  assert.ok(recorded.output.includes('uid=0(root)'), 'sudo id ran as root on the remote host');
});

test('no secret, and no piece of one longer than 4 characters, is in any file the recorder wrote', (t) => {
  if (skipped(t)) return;
  const searched = new Set(written.map((view) => view.where));
  for (const expected of ['!recording/session.cast', '!recording/checkpoints.notes', '!manifest.dsse.json (DSSE payload)', 'device-key.json']) {
    assert.ok([...searched].some((where) => where.endsWith(expected)), `${expected} was searched`);
  }
  assert.ok([...spool.keys()].some((file) => file.endsWith('/session.cast')), "the spool's cast was read while the session ran");
  const leaks: string[] = [];
  for (const [name, secret] of secrets) {
    for (const [length, views] of [
      [FRAGMENT, written.filter((view) => !view.raw)],
      [LONG_FRAGMENT, written.filter((view) => view.raw)],
    ] as const) {
      for (const fragment of fragmentsOf(secret, length)) {
        const hits = views.filter((view) => view.text.includes(fragment)).map((view) => view.where);
        if (hits.length > 0) leaks.push(`${name}: "${fragment}" in ${[...new Set(hits)].join(', ')}`);
      }
    }
  }
  assert.deepEqual(leaks, [], `secret pieces were written to disk:\n${leaks.slice(0, 40).join('\n')}`);
});

/**
 * What the recording holds of the keys typed, in typing order: input events and input-hidden
 * markers. (Output the redactor held back may be written after later keys, so keystrokes are
 * placed by the commands around them, not by the output.)
 */
function keystrokes(): { readonly code: 'i' | 'm'; readonly data: string }[] {
  return recordedEvents().flatMap((e) =>
    e.code === 'i' || (e.code === 'm' && parseMarker(e.data)?.kind === 'input-hidden') ? [{ code: e.code, data: e.data }] : [],
  );
}

/** The keystroke records after the input event that holds `from` and before the next one holding `to`. */
function keystrokesBetween(from: string, to: string): { readonly code: 'i' | 'm'; readonly data: string }[] {
  const keys = keystrokes();
  const start = keys.findIndex((k) => k.code === 'i' && k.data.includes(from));
  const end = keys.findIndex((k, i) => i > start && k.code === 'i' && k.data.includes(to));
  assert.ok(start >= 0 && end > start, `the input holds ${JSON.stringify(from)} and then ${JSON.stringify(to)}: ${JSON.stringify(keys)}`);
  return keys.slice(start + 1, end);
}

test('the password typed at the real remote sudo prompt (local pty raw under ssh) leaves one marker and nothing else', (t) => {
  if (skipped(t)) return;
  const between = keystrokesBetween('sudo -k; sudo id', 'exit');
  // Seen by the prompt detector ("password prompt") or by echo absence ("no echo"): either way, one marker.
  const marker = between.length === 1 && between[0]!.code === 'm' ? between[0]!.data : undefined;
  assert.ok(
    marker === 'input hidden: password prompt' || marker === 'input hidden: no echo',
    `the keys typed at \`[sudo] password for ${sshd!.user}:\` (and the Enter that ends them) must be one input-hidden marker; recorded: ${JSON.stringify(between)}`,
  );
});

test("the password typed at ssh's own prompt (local tty, echo off) leaves one marker and nothing else", (t) => {
  if (skipped(t)) return;
  assert.deepEqual(keystrokesBetween(`${sshd!.user}@127.0.0.1`, 'export PS1'), [{ code: 'm', data: 'input hidden: echo off' }]);
});

test('the session stays faithful: commands and their harmless output are recorded, secrets are masked in place with markers', (t) => {
  if (skipped(t)) return;
  const events = recordedEvents();
  const input = events.filter((e) => e.code === 'i').map((e) => e.data).join('');
  const output = events.filter((e) => e.code === 'o').map((e) => e.data).join('');
  for (const command of ['cat ', 'secrets.env', 'app-credentials.yaml', 'ssh -p', 'sudo -k; sudo id', 'exit']) {
    assert.ok(input.includes(command), `input holds ${JSON.stringify(command)}`);
  }
  for (const shown of ['uid=0(root)', 'GITHUB_TOKEN=', 'aws_secret_access_key = ', 'DATABASE_URL=postgres://app:', '@db:5432/app', 'export API_TOKEN=', 'kind: Secret', 'name: app-credentials']) {
    assert.ok(output.includes(shown), `output holds ${JSON.stringify(shown)}`);
  }
  assert.ok(output.includes('*'.repeat(FAKE.githubPat.length)), 'a mask keeps the width of the token it hides');

  const markers = events.filter((e) => e.code === 'm').map((e) => parseMarker(e.data));
  assert.ok(markers.every((m) => m !== undefined), 'every marker is one of ours');
  const ruleIds = new Set(markers.flatMap((m) => (m?.kind === 'redacted' ? [m.ruleId] : [])));
  for (const id of ['github-token', 'aws-access-key-id', 'aws-secret-access-key', 'slack-token', 'stripe-key', 'jwt', 'private-key-block', 'url-password', 'kubernetes-secret-data']) {
    assert.ok(ruleIds.has(id), `a marker names rule ${id}; rules seen: ${[...ruleIds].join(', ')}`);
  }
  assert.ok(
    markers.every((m) => m?.kind !== 'redacted' || /^[a-z0-9-]+:[0-9a-f]{32}$/.test(m.fingerprint)),
    'each redaction marker carries a keyed fingerprint, nothing else',
  );
});

test('the bundle verifies intact, and its manifest counts redactions by category and hidden inputs', (t) => {
  if (skipped(t)) return;
  assert.equal(report.intact, true, JSON.stringify(report.findings));
  const counts = report.session?.redaction.counts ?? {};
  for (const category of ['provider-token', 'jwt', 'private-key', 'connection-string', 'kubernetes-secret']) {
    assert.ok((counts[category] ?? 0) >= 1, `counts.${category} ≥ 1; counts: ${JSON.stringify(counts)}`);
  }
  // The ssh password (echo off) and the sudo password (prompt on the remote side).
  assert.ok((counts[HIDDEN_INPUT_COUNT] ?? 0) >= 2, `counts.${HIDDEN_INPUT_COUNT} ≥ 2; counts: ${JSON.stringify(counts)}`);
});
