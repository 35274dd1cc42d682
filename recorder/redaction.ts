/**
 * Builds the record path's redactor for one session: the policy's rules (today
 * the built-in set: the open call names a policy version, and the full org
 * policy arrives with the central service), the session's known secrets, and
 * the fingerprint key. A privileged session is never recorded without one.
 */
import type { RedactionKey } from '../shared/redaction/fingerprint.ts';
import { redactorForPolicy, rulesForPolicy, type PolicyRules } from '../shared/redaction/engine.ts';
import { DEFAULT_POLICY } from '../shared/redaction/policy.ts';
import type { Redactor } from '../shared/redaction/redactor.ts';
import type { RedactionPolicyRef } from './protocol.ts';

let defaultRules: PolicyRules | undefined;

export interface SessionRedactionInput {
  readonly policy: RedactionPolicyRef;
  readonly knownSecrets: readonly string[];
  readonly key: RedactionKey;
  readonly cols: number;
}

export function sessionRedactor(input: SessionRedactionInput): Redactor {
  const policy = { ...DEFAULT_POLICY, version: input.policy.version, recordInput: input.policy.recordInput };
  // The rules compile once per worker; a session with known secrets compiles its own set.
  const rules = input.knownSecrets.length === 0 ? (defaultRules ??= rulesForPolicy(policy)) : rulesForPolicy(policy, input.knownSecrets);
  return redactorForPolicy({ ...rules, version: `${input.policy.version}+${DEFAULT_POLICY.builtinRules}` }, input.key, input.cols);
}
