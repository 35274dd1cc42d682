/**
 * The built-in rule set. Order matters only for naming: when spans of two rules overlap and
 * start together, the earlier rule's id names the merged span, so precise rules come first and
 * the generic high-entropy rule last.
 */
import type { SecretRule } from '../types.ts';
import { CREDENTIAL_RULES } from './credentials.ts';
import { GENERIC_RULES } from './generic.ts';
import { JWT_RULES } from './jwt.ts';
import { KUBERNETES_RULES } from './kubernetes.ts';
import { PRIVATE_KEY_RULES } from './private-keys.ts';
import { PROVIDER_RULES } from './providers.ts';

/**
 * Bumped whenever a rule is added, removed, or changes version. Org policies name the oldest set
 * they accept (policy.ts `builtinRules`). builtin-2: the generic rule's allowlist takes Go
 * module hashes, AWS resource ids and base64 of prose; credential rules repeat with `*` within
 * their windows instead of counted repetitions.
 */
export const BUILTIN_RULES_VERSION = 'builtin-2';

export const BUILTIN_RULES: readonly SecretRule[] = [
  ...PRIVATE_KEY_RULES,
  ...PROVIDER_RULES,
  ...JWT_RULES,
  ...KUBERNETES_RULES,
  ...CREDENTIAL_RULES,
  ...GENERIC_RULES,
];
