import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildKeywordAutomaton, scanKeywords } from './aho-corasick.ts';
import { allowlistReason, isPlaceholder, looksRandom, shannonEntropy } from './entropy.ts';
import { BUILTIN_RULES } from './rules/index.ts';
import { FAKE } from './rules/samples.test-support.ts';
import { compileRules, holdPoint, scanText } from './scanner.ts';
import type { SecretRule, StepCounter } from './types.ts';

const builtin = compileRules(BUILTIN_RULES);

describe('Aho-Corasick automaton', () => {
  it('reports every occurrence, overlapping ones too, case-insensitively', () => {
    const automaton = buildKeywordAutomaton(['he', 'she', 'his', 'hers']);
    const { hits } = scanKeywords(automaton, 'uSHERS his');
    assert.deepEqual(
      hits.map((h) => [automaton.keywords[h.keyword], h.end]).sort(),
      [['he', 4], ['hers', 6], ['his', 10], ['she', 4]].sort(),
    );
  });

  it('reports the pending depth: the longest suffix that is a proper prefix of a keyword', () => {
    const automaton = buildKeywordAutomaton(['ghp_', 'password']);
    assert.equal(scanKeywords(automaton, 'token gh').pendingDepth, 2);
    assert.equal(scanKeywords(automaton, 'my PASSW').pendingDepth, 5);
    assert.equal(scanKeywords(automaton, 'ghp_').pendingDepth, 0); // complete, not a proper prefix
    assert.equal(scanKeywords(automaton, 'quiet').pendingDepth, 0);
  });

  it('counts one step per character', () => {
    const counter = { steps: 0 };
    scanKeywords(buildKeywordAutomaton(['abc']), 'x'.repeat(1000), counter);
    assert.equal(counter.steps, 1000);
  });
});

describe('entropy and allowlist', () => {
  it('measures Shannon entropy in bits per character', () => {
    assert.equal(shannonEntropy(''), 0);
    assert.equal(shannonEntropy('aaaa'), 0);
    assert.equal(shannonEntropy('abcd'), 2);
  });

  it('allowlists git SHAs, digests, UUIDs, image digests, SRI integrity, pod names and paths', () => {
    assert.equal(allowlistReason('4f9c2a7'), 'git-sha');
    assert.equal(allowlistReason('a'.repeat(24) + '0123456789abcdef'), 'git-sha');
    assert.equal(allowlistReason('0123456789abcdef'.repeat(4)), 'hex-digest');
    assert.equal(allowlistReason('123e4567-e89b-12d3-a456-426614174000'), 'uuid');
    assert.equal(allowlistReason('sha256:' + '0123456789abcdef'.repeat(4)), 'digest');
    assert.equal(allowlistReason('sha512-' + FAKE.randomKey + '=='), 'digest');
    assert.equal(allowlistReason('web-7d9f8b6c5d-x2x7q'), 'kubernetes-name');
    assert.equal(allowlistReason('/usr/lib/x86_64-linux-gnu/libssl.so.3'), 'path');
    assert.equal(allowlistReason(FAKE.randomKey), undefined);
  });

  it('tells random tokens from identifiers', () => {
    assert.ok(looksRandom(FAKE.randomKey));
    assert.ok(!looksRandom('AbstractSingletonProxyFactoryBean'));
    assert.ok(!looksRandom('TestCase1234ForUserLogin'));
  });

  it('recognizes documentation placeholders', () => {
    for (const v of ['<your-token>', '${TOKEN}', '$TOKEN', '****', '{{ secret }}', 'xxxxxxxx', 'your_api_key', '']) {
      assert.ok(isPlaceholder(v), v);
    }
    assert.ok(!isPlaceholder(FAKE.password));
  });
});

describe('compileRules', () => {
  it('names the rule whose pattern does not compile', () => {
    const bad: SecretRule = { id: 'broken-rule', version: 1, description: '', category: 'org-rule', keywords: ['x'], pattern: '(a' };
    assert.throws(() => compileRules([bad]), /redaction rule broken-rule: bad pattern/);
  });

  it('names the rule whose secretGroup does not exist', () => {
    const bad: SecretRule = { id: 'no-group', version: 1, description: '', category: 'org-rule', keywords: ['x'], pattern: 'x(y)', secretGroup: 2 };
    assert.throws(() => compileRules([bad]), /redaction rule no-group: secretGroup 2/);
  });
});

describe('scanText', () => {
  it('returns exact spans in order', () => {
    const text = `a=${FAKE.githubPat} b ${FAKE.npmToken}\n`;
    const spans = scanText(text, builtin);
    assert.deepEqual(spans, [
      { start: 2, end: 2 + FAKE.githubPat.length, ruleId: 'github-token' },
      { start: text.indexOf(FAKE.npmToken), end: text.indexOf(FAKE.npmToken) + FAKE.npmToken.length, ruleId: 'npm-token' },
    ]);
  });

  it('merges overlapping hits into one span named by the earliest start', () => {
    const rules: SecretRule[] = [
      { id: 'late', version: 1, description: '', category: 'org-rule', keywords: ['cd'], pattern: 'cdef' },
      { id: 'early', version: 1, description: '', category: 'org-rule', keywords: ['ab'], pattern: 'abcd' },
      { id: 'apart', version: 1, description: '', category: 'org-rule', keywords: ['xy'], pattern: 'xy' },
    ];
    assert.deepEqual(scanText('..abcdef..xy', compileRules(rules)), [
      { start: 2, end: 8, ruleId: 'early' },
      { start: 10, end: 12, ruleId: 'apart' },
    ]);
  });

  it('masks every value of a Kubernetes Secret data map and nothing of its metadata', () => {
    const text = 'apiVersion: v1\ndata:\n  password: cGFzc3dvcmQ=\n  username: YWRtaW4=\nkind: Secret\nmetadata:\n  name: test\n  namespace: default\n';
    assert.deepEqual(scanText(text, builtin).map((s) => text.slice(s.start, s.end)), ['cGFzc3dvcmQ=', 'YWRtaW4=']);
  });
});

describe('holdPoint', () => {
  it('holds a keyword split at the end', () => {
    assert.equal(holdPoint('$ echo gh', builtin), '$ echo '.length);
    // `"da` may become `"data"`: held from the quote, before the token run `da` starts.
    const json = '{"kind": "ConfigMap", "da';
    assert.equal(holdPoint(json, builtin), json.length - 3);
  });

  it('holds an open assignment window from its start', () => {
    const text = 'x'.repeat(200) + '\n' + 'password=';
    const at = text.indexOf('password');
    assert.equal(holdPoint(text, builtin), at - 72); // secret-assignment looks 72 characters back
  });

  it('holds a trailing token run', () => {
    const text = 'hello world\n$ echo ' + FAKE.randomKey.slice(0, 10);
    assert.equal(holdPoint(text, builtin), text.length - 10);
  });

  it('holds a private key block without its END', () => {
    const text = 'hello world\n' + '-----BEGIN OPENSSH ' + 'PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n';
    assert.equal(holdPoint(text, builtin), 'hello world\n'.length);
  });

  it('releases a private key block once its END has arrived', () => {
    const text = 'x\n' + FAKE.opensshKey + '\n$ ls\nfile.txt\n';
    assert.equal(holdPoint(text, builtin), text.length);
  });

  it('holds nothing when nothing is pending', () => {
    const text = 'total 0\ndrwxr-xr-x 2 admin admin 40 Mar  3 10:12 .\n';
    assert.equal(holdPoint(text, builtin), text.length);
  });
});

describe('linear time on hostile input', () => {
  // Work is counted as types.ts defines it: the Aho-Corasick pass (1 step per character), the
  // token pass (1), and every window handed to re2js. A rule's windows are merged before they
  // are run, so each rule sees each character at most once: steps ≤ (2 + rules) · length.
  // With the 39 built-in rules that is 41; K = 64 leaves room for the rule set to grow.
  const K = 64;
  assert.ok(2 + BUILTIN_RULES.length <= K, 'the rule set outgrew the step constant');
  const size = 100_000;
  const repeat = (unit: string): string => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
  const hostile: Record<string, string> = {
    'a run of one letter': 'a'.repeat(size),
    'ghp_ repeated': repeat('ghp_'),
    'password=password=…': repeat('password='),
    'password: a lines': repeat('password: a\n'),
    '-----BEGIN repeated': repeat('-----BEGIN '),
    'BEGIN PRIVATE KEY headers without END': repeat('-----BEGIN RSA PRIVATE KEY-----\nAAAA '),
    'alternating token characters': repeat('aZ0+/=_-.~'),
    'eyJ repeated': repeat('eyJ'),
    'eyJ.eyJ. repeated': repeat('eyJabcdefgh.eyJabcdefgh.'),
    '://:@ patterns': repeat('://:@'),
    'quotes after keys': repeat('token "'),
    'every keyword at once': repeat('x://u:p@h password="a token: ghp_ eyJ.eyJ. data:\n  k: v -----BEGIN RSA PRIVATE KEY-----\n'),
  };
  for (const [name, text] of Object.entries(hostile)) {
    it(`${name}: steps ≤ ${K} · length`, () => {
      const counter: StepCounter = { steps: 0 };
      scanText(text, builtin, counter);
      assert.ok(counter.steps <= K * text.length, `${counter.steps} steps for ${text.length} characters`);
      assert.ok(counter.steps <= (2 + BUILTIN_RULES.length) * text.length);
    });
  }
});

describe('property: an embedded secret is masked whole and nothing else is', () => {
  const corpus = [
    FAKE.githubPat, FAKE.githubFineGrained, FAKE.gitlabPat, FAKE.slackBot, FAKE.stripeLive, FAKE.googleApiKey,
    FAKE.npmToken, FAKE.pypiToken, FAKE.dockerPat, FAKE.anthropicKey, FAKE.openaiProject, FAKE.vaultService,
    FAKE.sendgrid, FAKE.shopifyAccess, FAKE.jwt, FAKE.awsAccessKeyId, FAKE.opensshKey, FAKE.rsaKey,
  ];
  // Filler of words, spaces, newlines and punctuation that cannot glue onto a token.
  const filler = fc
    .array(fc.constantFrom('hello', 'world', 'ls -l', '$', ' ', '\n', '\r\n', '|', '(', ')', '#', 'ok', 'a', 'git status', '#'), { maxLength: 12 })
    .map((parts) => parts.join(''));

  it('holds for random surroundings', () => {
    fc.assert(
      fc.property(filler, fc.constantFrom(...corpus), filler, (before, secret, after) => {
        const text = `${before} ${secret} ${after}`;
        const start = before.length + 1;
        const end = start + secret.length;
        const spans = scanText(text, builtin);
        assert.ok(spans.some((s) => s.start <= start && s.end >= end), 'the secret is covered whole');
        for (const span of spans) assert.ok(span.start >= start && span.end <= end, `no byte outside: ${JSON.stringify(text.slice(span.start, span.end))}`);
      }),
      { numRuns: 300 },
    );
  });
});
