/**
 * A redaction policy turned into a working redactor: the built-in rules minus
 * the disabled ones, plus the org's rules, plus the session's known secrets,
 * every candidate checked against the org's allowlist. One place, so that the
 * recorder, `custody redact` and the benchmarks redact exactly alike.
 */
import { RE2JS } from 're2js';
import type { RedactionKey } from './fingerprint.ts';
import { knownSecretRule } from './known-secrets.ts';
import { builtinRulesProblem, policyVersionString, type RedactionPolicy } from './policy.ts';
import { BUILTIN_RULES } from './rules/index.ts';
import { compileRules, type CompiledRules } from './scanner.ts';
import { StreamRedactor } from './stream.ts';
import type { RuleCategory, SecretRule } from './types.ts';

export interface PolicyRules {
  readonly compiled: CompiledRules;
  readonly categoryOf: (ruleId: string) => RuleCategory | undefined;
  /** For the manifest, e.g. `org-3+builtin-2`. */
  readonly version: string;
}

/** Compiles the rules a policy asks for. Throws an Error naming the rule or allowlist entry that is wrong. */
export function rulesForPolicy(policy: RedactionPolicy, knownSecrets: readonly string[] = []): PolicyRules {
  const tooOld = builtinRulesProblem(policy);
  if (tooOld !== undefined) throw new Error(tooOld);
  const builtinIds = new Set(BUILTIN_RULES.map((rule) => rule.id));
  for (const rule of policy.orgRules) {
    if (builtinIds.has(rule.id)) throw new Error(`redaction policy ${policy.version}: org rule ${rule.id} has the id of a built-in rule`);
  }
  const literals = new Set(policy.allowlist.literals);
  const patterns = policy.allowlist.patterns.map((pattern, index) => {
    try {
      return RE2JS.compile(pattern);
    } catch (error) {
      throw new Error(`redaction policy ${policy.version}: allowlist.patterns[${index}] is not valid RE2: ${(error as Error).message}`);
    }
  });
  const allowed = (secret: string): boolean => literals.has(secret) || patterns.some((p) => p.matches(secret));
  const withAllowlist = (rule: SecretRule): SecretRule =>
    literals.size === 0 && patterns.length === 0 ? rule : { ...rule, accept: (secret, text, start) => !allowed(secret) && (rule.accept?.(secret, text, start) ?? true) };

  const disabled = new Set(policy.disabledRules);
  const rules: SecretRule[] = [
    ...BUILTIN_RULES.filter((rule) => !disabled.has(rule.id)).map(withAllowlist),
    ...policy.orgRules.map((rule) => withAllowlist(orgRule(rule))),
  ];
  // Known secrets are what the app itself injected: never allowlisted.
  const known = knownSecretRule(knownSecrets);
  if (known !== undefined) rules.push(known);
  const categories = new Map<string, RuleCategory>(rules.map((rule) => [rule.id, rule.category]));
  return { compiled: compileRules(rules), categoryOf: (id) => categories.get(id), version: policyVersionString(policy) };
}

/** An org rule as a SecretRule (optional fields only when present). */
function orgRule(rule: RedactionPolicy['orgRules'][number]): SecretRule {
  return {
    id: rule.id,
    version: rule.version,
    description: rule.description,
    category: rule.category,
    keywords: rule.keywords,
    pattern: rule.pattern,
    ...(rule.secretGroup === undefined ? {} : { secretGroup: rule.secretGroup }),
    ...(rule.window === undefined ? {} : { window: rule.window }),
  };
}

export function redactorForPolicy(rules: PolicyRules, key: RedactionKey, cols: number): StreamRedactor {
  return new StreamRedactor({ rules: rules.compiled, categoryOf: rules.categoryOf, key, policyVersion: rules.version, cols });
}
