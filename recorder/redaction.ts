/**
 * Builds the record path's redactor for one session: the session's redaction policy (built-in
 * rules, org rules and allowlists; from the central service once it exists, the built-in
 * default until then), the session's known secrets, and the fingerprint key. A privileged
 * session is never recorded without one: a policy that does not compile fails the open.
 */
import type { RedactionKey } from '../shared/redaction/fingerprint.ts';
import { redactorForPolicy, rulesForPolicy, type PolicyRules } from '../shared/redaction/engine.ts';
import type { RedactionPolicy } from '../shared/redaction/policy.ts';
import type { Redactor } from '../shared/redaction/redactor.ts';

/** Compiled rules per policy (as JSON); sessions of one org share one or two policies. */
const compiled = new Map<string, PolicyRules>();
const COMPILED_LIMIT = 8;

export interface SessionRedactionInput {
  readonly policy: RedactionPolicy;
  readonly knownSecrets: readonly string[];
  readonly key: RedactionKey;
  readonly cols: number;
}

/** The policy's compiled rules without known secrets; throws, saying why, when it does not compile. */
export function policyRules(policy: RedactionPolicy): PolicyRules {
  const id = JSON.stringify(policy);
  let rules = compiled.get(id);
  if (rules === undefined) {
    rules = rulesForPolicy(policy);
    if (compiled.size >= COMPILED_LIMIT) compiled.delete(compiled.keys().next().value!);
    compiled.set(id, rules);
  }
  return rules;
}

export function sessionRedactor(input: SessionRedactionInput): Redactor {
  // A session with known secrets compiles its own set (the secrets are rules of their own).
  const rules = input.knownSecrets.length === 0 ? policyRules(input.policy) : rulesForPolicy(input.policy, input.knownSecrets);
  return redactorForPolicy(rules, input.key, input.cols);
}
