/** `custody redact`: the recorder's redactor as a filter, with org policies. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const ROOT = new URL('..', import.meta.url).pathname;
let home: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'custody-redact-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

function redact(input: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin/custody.js'), 'redact', ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, CUSTODY_HOME: home },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const token = 'gh' + 'p_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';

test('redacts stdin to stdout and prints one marker per redaction on stderr', () => {
  const { status, stdout, stderr } = redact(`GITHUB_TOKEN=${token}\nnothing here\n`);
  assert.equal(status, 0, stderr);
  assert.equal(stdout, `GITHUB_TOKEN=${'*'.repeat(token.length)}\nnothing here\n`);
  assert.match(stderr, /^redacted github-token local-[0-9a-f]{12}:[0-9a-f]{32}\n$/);
  assert.ok(!stderr.includes(token.slice(4, 12)));
});

test('an org policy adds rules, disables built-in ones and allowlists values', async () => {
  const policy = join(home, 'policy.json');
  await writeFile(
    policy,
    JSON.stringify({
      version: 'org-7',
      builtinRules: 'builtin-1',
      recordInput: true,
      disabledRules: ['github-token', 'generic-high-entropy'], // both would catch the token
      orgRules: [{ id: 'acme-ticket-key', version: 1, description: 'ACME internal keys', category: 'org-rule', keywords: ['acmek_'], pattern: 'acmek_[A-Za-z0-9]{16}' }],
      allowlist: { patterns: [], literals: ['hunter2-is-the-test-password'] },
      redactionKeyId: 'org-key-1',
    }),
  );
  const { status, stdout, stderr } = redact(`key acmek_AbCdEfGh12345678\n${token}\npassword=hunter2-is-the-test-password\n`, '--policy', policy);
  assert.equal(status, 0, stderr);
  assert.equal(stdout, `key ${'*'.repeat(22)}\n${token}\npassword=hunter2-is-the-test-password\n`, 'org rule masks; disabled rule and allowlisted value do not');
  assert.match(stderr, /^redacted acme-ticket-key /);
});

test('a known secret is masked in its encodings too', () => {
  const secret = 'Inj3cted-Db-Passw0rd';
  const base64 = Buffer.from(`user:${secret}`).toString('base64');
  const { stdout } = redact(`plain ${secret}\nbasic ${base64}\nurl ${encodeURIComponent(secret + '/x')}\n`, '--known-secret', secret);
  assert.ok(!stdout.includes(secret), stdout);
  assert.ok(!stdout.includes(Buffer.from(secret).toString('base64').slice(4, 16)), stdout);
});

test('a broken policy is refused with the field that is wrong', async () => {
  const policy = join(home, 'bad.json');
  await writeFile(policy, JSON.stringify({ version: 'org-1', builtinRules: 'builtin-1', recordInput: true, disabledRules: [], orgRules: [{ id: 'x', version: 1, description: '', category: 'org-rule', keywords: [], pattern: 'a' }], allowlist: { patterns: [], literals: [] }, redactionKeyId: 'k' }));
  const { status, stderr } = redact('x\n', '--policy', policy);
  assert.equal(status, 2);
  assert.match(stderr, /orgRules\[0\]\.keywords/);
});
