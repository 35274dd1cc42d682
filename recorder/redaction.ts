/**
 * Builds the record path's redactor for one session: the built-in rules, the
 * session's known secrets (what the app injected, by value and encodings), the
 * keyed fingerprints, and the streaming redactor over them. A privileged
 * session is never recorded without one.
 */
import { knownSecretRule } from '../shared/redaction/known-secrets.ts';
import type { RedactionKey } from '../shared/redaction/fingerprint.ts';
import type { Redactor } from '../shared/redaction/redactor.ts';
import { BUILTIN_RULES, BUILTIN_RULES_VERSION } from '../shared/redaction/rules/index.ts';
import { compileRules, type CompiledRules } from '../shared/redaction/scanner.ts';
import { StreamRedactor } from '../shared/redaction/stream.ts';
import type { RuleCategory, SecretRule } from '../shared/redaction/types.ts';
import type { RedactionPolicyRef } from './protocol.ts';

const builtinCategories = new Map<string, RuleCategory>(BUILTIN_RULES.map((rule) => [rule.id, rule.category]));
let builtinCompiled: CompiledRules | undefined;

export interface SessionRedactionInput {
  readonly policy: RedactionPolicyRef;
  readonly knownSecrets: readonly string[];
  readonly key: RedactionKey;
  readonly cols: number;
}

export function sessionRedactor(input: SessionRedactionInput): Redactor {
  const known = knownSecretRule(input.knownSecrets);
  const rules: readonly SecretRule[] = known === undefined ? BUILTIN_RULES : [...BUILTIN_RULES, known];
  // The built-in set compiles once per worker; a session with known secrets compiles its own.
  const compiled = known === undefined ? (builtinCompiled ??= compileRules(BUILTIN_RULES)) : compileRules(rules);
  return new StreamRedactor({
    rules: compiled,
    categoryOf: (id) => (id === known?.id ? 'known-secret' : builtinCategories.get(id)),
    key: input.key,
    policyVersion: `${input.policy.version}+${BUILTIN_RULES_VERSION}`,
    cols: input.cols,
  });
}
