/**
 * The open call carries the org's redaction policy in full: its org rules and allowlists redact
 * the recording, its version and counts go into the manifest, and a policy the recorder cannot
 * apply stops the session before the program starts (fail closed).
 */
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { newSessionId, nodeSuite, nodeZipCodec, RecorderClient, type OpenCall, type RecorderEvent } from '../recorder/index.ts';
import { readRecording, verifyBundle } from '../shared/bundle/index.ts';
import { DEFAULT_POLICY, type RedactionPolicy } from '../shared/redaction/policy.ts';
import { BUILTIN_RULES_VERSION } from '../shared/redaction/rules/index.ts';

const ORG_SECRET = 'ACME-' + '483920' + '-QZ';
const ALLOWED_TOKEN = 'gh' + 'p_' + 'AllowListedDemoToken0000000000000000000';
const OTHER_TOKEN = 'gh' + 'p_' + 'R7s6T5u4V3w2X1y0Z9a8B7c6D5e4F3g2H1i0';

const ACME_POLICY: RedactionPolicy = {
  ...DEFAULT_POLICY,
  version: 'acme-7',
  orgRules: [
    {
      id: 'acme-vault-ticket',
      version: 1,
      description: 'ACME vault break-glass tickets',
      category: 'org-rule',
      keywords: ['acme-'],
      pattern: String.raw`\bACME-[0-9]{6}-[A-Z]{2}\b`,
    },
  ],
  allowlist: { patterns: [], literals: [ALLOWED_TOKEN] },
};

function openCall(sessionId: string, cwd: string, script: string, policy: RedactionPolicy): OpenCall {
  return {
    type: 'open',
    sessionId,
    command: '/bin/bash',
    args: ['-c', script],
    cwd,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TERM: 'xterm-256color' },
    cols: 80,
    rows: 24,
    metadata: {},
    knownSecrets: [],
    redactionPolicy: policy,
  };
}

async function withRecorder(body: (client: RecorderClient, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'custody-policy-'));
  const client = RecorderClient.start({ dataDir: dir });
  try {
    await client.ready;
    await body(client, dir);
  } finally {
    await client.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

test("the session's policy decides: org rules mask, allowlisted values stay, the manifest names the policy", async () => {
  await withRecorder(async (client, dir) => {
    const sessionId = newSessionId();
    const sealed = client.waitFor((e: RecorderEvent) => e.type === 'sealed' && e.sessionId === sessionId);
    client.send(openCall(sessionId, dir, `printf 'ticket %s\\nallowed %s\\nother %s\\n' '${ORG_SECRET}' '${ALLOWED_TOKEN}' '${OTHER_TOKEN}'`, ACME_POLICY));
    const { bundlePath } = (await sealed) as Extract<RecorderEvent, { type: 'sealed' }>;
    const bytes = new Uint8Array(await readFile(bundlePath));
    const report = verifyBundle(bytes, { suite: nodeSuite, zipCodec: nodeZipCodec });
    // ACME_POLICY accepts builtin-1 or newer: the manifest names the set that was applied.
    assert.equal(report.session?.redaction.policyVersion, `acme-7+${BUILTIN_RULES_VERSION}`);
    assert.deepEqual(report.session?.redaction.counts, { 'org-rule': 1, 'provider-token': 1 });
    const recording = readRecording(bytes, undefined, nodeZipCodec);
    const output = recording.events.filter((e) => e.code === 'o').map((e) => e.data).join('');
    assert.match(output, /ticket \*{14}\r\n/);
    assert.ok(output.includes(`allowed ${ALLOWED_TOKEN}`), 'the allowlisted literal is recorded as it is');
    assert.match(output, /other \*{40}\r\n/);
    const markers = recording.events.filter((e) => e.code === 'm').map((e) => e.data);
    assert.ok(markers.some((m) => m.startsWith('redacted acme-vault-ticket ')), markers.join('\n'));
    assert.ok(!new TextDecoder().decode(bytes).includes('483920'));
  });
});

test('a policy this recorder cannot apply refuses the session before the program starts', async () => {
  await withRecorder(async (client, dir) => {
    const sessionId = newSessionId();
    const marker = join(dir, 'the-program-ran');
    const failed = client.waitFor((e: RecorderEvent) => e.type === 'error' && e.sessionId === sessionId);
    client.send(openCall(sessionId, dir, `touch '${marker}'`, { ...ACME_POLICY, builtinRules: 'builtin-99' }));
    const error = (await failed) as Extract<RecorderEvent, { type: 'error' }>;
    assert.equal(error.code, 'open-failed');
    assert.equal(error.fatal, true);
    assert.match(error.message, /redaction policy cannot be used: .*builtin-99/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await assert.rejects(access(marker), 'the program never ran');
  });
});

test('an open call whose policy breaks the schema is refused as an invalid call, naming the field', async () => {
  await withRecorder(async (client, dir) => {
    const sessionId = newSessionId();
    const failed = client.waitFor((e: RecorderEvent) => e.type === 'error');
    const bad = { ...openCall(sessionId, dir, 'true', ACME_POLICY), redactionPolicy: { ...ACME_POLICY, orgRules: [{ ...ACME_POLICY.orgRules[0]!, keywords: ['ACME-'] }] } };
    client.send(bad);
    const error = await failed;
    assert.equal(error.code, 'invalid-call');
    assert.match(error.message, /redactionPolicy\.orgRules\.0\.keywords\.0|lower-case/);
  });
});
