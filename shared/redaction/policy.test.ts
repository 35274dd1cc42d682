import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PredicateSchema } from '../bundle/manifest.ts';
import type { Marker } from './markers.ts';
import { rulesForPolicy } from './engine.ts';
import { BUILTIN_RULES_VERSION } from './rules/index.ts';
import {
  addCounts,
  builtinRulesProblem,
  countByCategory,
  DEFAULT_POLICY,
  parsePolicy,
  PolicyError,
  policyVersionString,
  RedactionPolicySchema,
  type OrgRule,
  type RedactionPolicy,
} from './policy.ts';
import type { RuleCategory } from './types.ts';

const orgRule: OrgRule = {
  id: 'acme-deploy-key',
  version: 2,
  description: 'ACME deploy keys',
  category: 'org-rule',
  keywords: ['acme_dk_'],
  pattern: '(acme_dk_[A-Za-z0-9]{32})',
  secretGroup: 1,
  window: { before: 0, after: 48 },
};

const orgPolicy: RedactionPolicy = {
  version: 'org-3',
  builtinRules: 'builtin-1',
  recordInput: false,
  disabledRules: ['generic-high-entropy'],
  orgRules: [orgRule],
  allowlist: { patterns: ['EXAMPLE[A-Z0-9]+'], literals: ['AKIAIOSFODNN7EXAMPLE'] },
  redactionKeyId: 'acme-redaction-2025',
};

/** The policy with one field replaced, by path (`orgRules.0.pattern`). */
function withField(path: string, value: unknown): unknown {
  const copy = structuredClone(orgPolicy) as unknown as Record<string, unknown>;
  const parts = path.split('.');
  let target: Record<string, unknown> = copy;
  for (const part of parts.slice(0, -1)) target = target[part] as Record<string, unknown>;
  target[parts.at(-1)!] = value;
  return copy;
}

function problemFor(input: unknown): string {
  try {
    parsePolicy(input, 'policy.json');
  } catch (error) {
    assert.ok(error instanceof PolicyError);
    return error.message;
  }
  assert.fail('the policy was accepted');
}

describe('redaction policy schema', () => {
  test('accepts the default policy and an org policy, unchanged', () => {
    assert.deepEqual(parsePolicy(DEFAULT_POLICY), DEFAULT_POLICY);
    assert.deepEqual(parsePolicy(structuredClone(orgPolicy)), orgPolicy);
    assert.deepEqual(parsePolicy(JSON.parse(JSON.stringify(orgPolicy))), orgPolicy);
  });

  test('rejects oversized fields with a message naming the field', () => {
    const cases: [string, unknown, RegExp][] = [
      ['orgRules.0.pattern', 'a'.repeat(2001), /orgRules\[0\]\.pattern: must be at most 2000 characters/],
      ['orgRules', Array.from({ length: 501 }, (_, i) => ({ ...orgRule, id: `rule-${i}` })), /orgRules: must have at most 500 rules/],
      ['orgRules.0.keywords', Array.from({ length: 33 }, (_, i) => `kw${i}`), /orgRules\[0\]\.keywords: must have at most 32/],
      ['orgRules.0.keywords', ['k'.repeat(65)], /orgRules\[0\]\.keywords\[0\]: must be at most 64/],
      ['orgRules.0.description', 'd'.repeat(501), /orgRules\[0\]\.description/],
      ['orgRules.0.window', { before: 0, after: 100_000 }, /orgRules\[0\]\.window\.after/],
      ['disabledRules', Array.from({ length: 501 }, (_, i) => `rule-${i}`), /disabledRules: must list at most 500/],
      ['allowlist.patterns', ['x'.repeat(2001)], /allowlist\.patterns\[0\]: must be at most 2000/],
      ['allowlist.literals', Array.from({ length: 5001 }, (_, i) => `l${i}`), /allowlist\.literals: must have at most 5000/],
      ['allowlist.literals', ['l'.repeat(513)], /allowlist\.literals\[0\]: must be at most 512/],
      ['version', 'v'.repeat(65), /version: must be 1-64/],
      ['redactionKeyId', 'k'.repeat(65), /redactionKeyId/],
    ];
    for (const [path, value, message] of cases) assert.match(problemFor(withField(path, value)), message, path);
  });

  test('rejects garbage with a message naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [null, /\(top level\)/],
      ['policy', /\(top level\)/],
      [withField('orgRules.0.id', 'ACME Key'), /orgRules\[0\]\.id: must be kebab-case/],
      [withField('orgRules.0.id', 'acme--key'), /orgRules\[0\]\.id: must be kebab-case/],
      [withField('orgRules.0.category', 'provider-token'), /orgRules\[0\]\.category/],
      [withField('orgRules.0.keywords', []), /orgRules\[0\]\.keywords: needs at least one keyword/],
      [withField('orgRules.0.keywords', ['ACME_']), /orgRules\[0\]\.keywords\[0\]: must be lower-case/],
      [withField('orgRules.0.pattern', ''), /orgRules\[0\]\.pattern: must not be empty/],
      [withField('orgRules.0.secretGroup', -1), /orgRules\[0\]\.secretGroup/],
      [withField('orgRules.0.version', 1.5), /orgRules\[0\]\.version/],
      [withField('orgRules', [orgRule, orgRule]), /orgRules\[1\]\.id: duplicates rule id acme-deploy-key/],
      [withField('disabledRules', ['Not A Rule']), /disabledRules\[0\]: must be kebab-case/],
      [withField('builtinRules', 'latest'), /builtinRules: must be builtin-<number>/],
      [withField('version', 'org 3+x'), /version: must be 1-64/],
      [withField('recordInput', 'yes'), /recordInput/],
      [withField('redactionKeyId', 'key:1'), /redactionKeyId/],
      [{ ...orgPolicy, extra: true }, /extra/],
      [withField('allowlist.extra', 1), /allowlist/],
      [withField('orgRules.0.accept', 'x => true'), /orgRules\[0\]/],
    ];
    for (const [input, message] of cases) assert.match(problemFor(input), message);
  });

  test('names every problem, not just the first', () => {
    const input = withField('orgRules', [{ ...orgRule, id: 'Bad Id', pattern: '' }]);
    const error = (() => {
      try {
        parsePolicy(input);
      } catch (caught) {
        return caught as PolicyError;
      }
      assert.fail('accepted');
    })();
    assert.ok(error.problems.some((p) => p.startsWith('orgRules[0].id:')));
    assert.ok(error.problems.some((p) => p.startsWith('orgRules[0].pattern:')));
  });

  test('never throws anything but a PolicyError, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const result = RedactionPolicySchema.safeParse(input);
        if (!result.success) assert.throws(() => parsePolicy(input), PolicyError);
      }),
    );
  });
});

describe('policy version', () => {
  test('a policy for an older built-in set runs on this build; one for a newer set is refused by name', () => {
    assert.equal(builtinRulesProblem(orgPolicy), undefined);
    assert.equal(builtinRulesProblem({ version: 'org-4', builtinRules: BUILTIN_RULES_VERSION }), undefined);
    assert.equal(
      builtinRulesProblem({ version: 'org-4', builtinRules: 'builtin-999' }),
      `redaction policy org-4 asks for built-in rules builtin-999 or newer, but this build has ${BUILTIN_RULES_VERSION}`,
    );
    assert.throws(() => rulesForPolicy({ ...orgPolicy, builtinRules: 'builtin-999' }), /builtin-999 or newer/);
  });

  test('reads org version + built-in rule set, and fits the manifest', () => {
    // The org accepts builtin-1 or newer; the manifest names the set this build applied.
    assert.equal(policyVersionString(orgPolicy), `org-3+${BUILTIN_RULES_VERSION}`);
    assert.equal(policyVersionString(DEFAULT_POLICY), `default+${BUILTIN_RULES_VERSION}`);
    assert.equal(DEFAULT_POLICY.builtinRules, BUILTIN_RULES_VERSION);
    const redaction = { policyVersion: policyVersionString(orgPolicy), counts: countByCategory([], () => undefined) };
    assert.ok(PredicateSchema.shape.redaction.safeParse(redaction).success);
  });
});

describe('redaction counts', () => {
  const categories: Record<string, RuleCategory> = {
    'github-pat': 'provider-token',
    'aws-access-key-id': 'provider-token',
    'pem-private-key': 'private-key',
    'acme-deploy-key': 'org-rule',
  };
  const categoryOf = (ruleId: string): RuleCategory | undefined => categories[ruleId];
  const print = 'dev-00000000:' + '0'.repeat(32);
  const redacted = (ruleId: string): Marker => ({ kind: 'redacted', ruleId, fingerprint: print });

  test('counts markers per category, hidden input and unknown rules included, keys sorted', () => {
    const counts = countByCategory(
      [
        redacted('github-pat'),
        redacted('aws-access-key-id'),
        redacted('pem-private-key'),
        redacted('known-secret'),
        redacted('acme-deploy-key'),
        redacted('retired-rule'),
        { kind: 'input-hidden', reason: 'echo-off' },
        { kind: 'input-hidden', reason: 'no-echo' },
      ],
      categoryOf,
    );
    assert.deepEqual(counts, {
      'input-hidden': 2,
      'known-secret': 1,
      'org-rule': 1,
      'private-key': 1,
      'provider-token': 2,
      uncategorised: 1,
    });
    assert.deepEqual(Object.keys(counts), Object.keys(counts).toSorted());
    assert.ok(PredicateSchema.shape.redaction.safeParse({ policyVersion: 'x', counts }).success);
  });

  test('counts add up across segments', () => {
    const a = countByCategory([redacted('github-pat'), redacted('pem-private-key')], categoryOf);
    const b = countByCategory([redacted('github-pat'), { kind: 'input-hidden', reason: 'password-prompt' }], categoryOf);
    assert.deepEqual(addCounts(a, b), { 'input-hidden': 1, 'private-key': 1, 'provider-token': 2 });
    assert.deepEqual(addCounts(), {});
  });
});
