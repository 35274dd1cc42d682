/**
 * The redaction policy: which built-in rule set, which of its rules are off, the
 * org's own rules and allowlists, whether keystrokes are recorded at all, and which
 * redaction key fingerprints secrets. It comes with the session (later from the
 * central service); its version and the redaction counts per category go into the
 * bundle manifest (`predicate.redaction`). Pure: runs in Node and in the browser.
 *
 * The schema checks shape and size only. Whether patterns compile under RE2 and
 * whether org rule ids clash with built-in ones is checked when the engine builds
 * its rule set from the policy.
 */
import { z } from 'zod';
import { KEY_ID_PATTERN } from './fingerprint.ts';
import { MAX_RULE_ID_LENGTH, RULE_ID_PATTERN, type Marker } from './markers.ts';
import { BUILTIN_RULES_VERSION } from './rules/index.ts';
import type { RuleCategory } from './types.ts';

export const POLICY_LIMITS = {
  orgRules: 500,
  disabledRules: 500,
  keywordsPerRule: 32,
  keywordLength: 64,
  patternLength: 2000,
  descriptionLength: 500,
  windowReach: 4096,
  allowlistPatterns: 500,
  allowlistLiterals: 5000,
  literalLength: 512,
} as const;

/** Policy versions and built-in rule set names go into `org-3+builtin-1`: no `+`, no spaces. */
const VERSION_LABEL = /^[A-Za-z0-9._-]{1,64}$/;

const RuleIdSchema = z
  .string()
  .max(MAX_RULE_ID_LENGTH, `must be at most ${MAX_RULE_ID_LENGTH} characters`)
  .regex(RULE_ID_PATTERN, 'must be kebab-case (a-z, 0-9, single dashes), e.g. acme-deploy-key');

const Re2PatternSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(POLICY_LIMITS.patternLength, `must be at most ${POLICY_LIMITS.patternLength} characters`);

const reach = z.number().int().min(0).max(POLICY_LIMITS.windowReach);

export const OrgRuleSchema = z.strictObject({
  id: RuleIdSchema,
  version: z.number().int().min(1).max(1_000_000),
  description: z.string().max(POLICY_LIMITS.descriptionLength),
  category: z.literal('org-rule'),
  // At least one keyword: an org rule runs only where one of them occurs (the token
  // pass without keywords is for the built-in high-entropy rule alone).
  keywords: z
    .array(
      z
        .string()
        .min(2, 'must be at least 2 characters')
        .max(POLICY_LIMITS.keywordLength, `must be at most ${POLICY_LIMITS.keywordLength} characters`)
        .refine((keyword) => keyword === keyword.toLowerCase(), 'must be lower-case (matching is case-insensitive)'),
    )
    .min(1, 'needs at least one keyword')
    .max(POLICY_LIMITS.keywordsPerRule, `must have at most ${POLICY_LIMITS.keywordsPerRule} keywords`),
  pattern: Re2PatternSchema,
  secretGroup: z.number().int().min(0).max(99).optional(),
  window: z.strictObject({ before: reach, after: reach }).optional(),
});
export type OrgRule = z.infer<typeof OrgRuleSchema>;

export const RedactionPolicySchema = z.strictObject({
  /** The org's label for this policy, e.g. `org-3`. */
  version: z.string().regex(VERSION_LABEL, 'must be 1-64 of A-Z a-z 0-9 . _ -'),
  /**
   * The oldest built-in rule set the org accepts, e.g. `builtin-1`. A build with a newer set
   * applies its own (rules only improve) and records which; an older build refuses the policy.
   */
  builtinRules: z.string().regex(/^builtin-[0-9]{1,6}$/, 'must be builtin-<number>, e.g. builtin-1'),
  /** False: keystrokes are never stored, not even as markers of hidden input. */
  recordInput: z.boolean(),
  disabledRules: z
    .array(RuleIdSchema)
    .max(POLICY_LIMITS.disabledRules, `must list at most ${POLICY_LIMITS.disabledRules} rules`),
  orgRules: z
    .array(OrgRuleSchema)
    .max(POLICY_LIMITS.orgRules, `must have at most ${POLICY_LIMITS.orgRules} rules`)
    .superRefine((rules, context) => {
      const seen = new Set<string>();
      rules.forEach((rule, index) => {
        if (seen.has(rule.id)) {
          context.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicates rule id ${rule.id}` });
        }
        seen.add(rule.id);
      });
    }),
  allowlist: z.strictObject({
    /** RE2; a candidate secret that one of them matches in full is not a secret. */
    patterns: z
      .array(Re2PatternSchema)
      .max(POLICY_LIMITS.allowlistPatterns, `must have at most ${POLICY_LIMITS.allowlistPatterns} patterns`),
    /** Exact values that are never secrets (a well-known test token, a placeholder). */
    literals: z
      .array(
        z
          .string()
          .min(1, 'must not be empty')
          .max(POLICY_LIMITS.literalLength, `must be at most ${POLICY_LIMITS.literalLength} characters`),
      )
      .max(POLICY_LIMITS.allowlistLiterals, `must have at most ${POLICY_LIMITS.allowlistLiterals} literals`),
  }),
  redactionKeyId: z.string().regex(KEY_ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 . _ -'),
});
export type RedactionPolicy = z.infer<typeof RedactionPolicySchema>;

/** The built-in rules and nothing else: what a session gets when no org policy comes with it. */
export const DEFAULT_POLICY: RedactionPolicy = Object.freeze({
  version: 'default',
  builtinRules: BUILTIN_RULES_VERSION,
  recordInput: true,
  disabledRules: [],
  orgRules: [],
  allowlist: { patterns: [], literals: [] },
  redactionKeyId: 'default',
});

export class PolicyError extends Error {
  /** Every problem found, each `field.path: message`. */
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    super(`redaction policy ${source}: ${shown}${more}`);
    this.name = 'PolicyError';
    this.problems = problems;
  }
}

/**
 * Validates a policy (parsed JSON). Throws a PolicyError whose message names each
 * offending field: `redaction policy policy.json: orgRules[3].pattern: must be at
 * most 2000 characters`.
 */
export function parsePolicy(input: unknown, source = '(inline)'): RedactionPolicy {
  const result = RedactionPolicySchema.safeParse(input);
  if (result.success) return result.data;
  throw new PolicyError(
    source,
    result.error.issues.map((issue) => `${fieldPath(issue.path) || '(top level)'}: ${issue.message}`),
  );
}

const builtinNumber = (name: string): number => Number(name.slice('builtin-'.length));

/**
 * Why this build cannot apply `policy`, or undefined: the policy asks for built-in rules newer
 * than the build has (the device runs an older app than the org's policy was written for).
 */
export function builtinRulesProblem(policy: Pick<RedactionPolicy, 'version' | 'builtinRules'>): string | undefined {
  if (builtinNumber(policy.builtinRules) <= builtinNumber(BUILTIN_RULES_VERSION)) return undefined;
  return `redaction policy ${policy.version} asks for built-in rules ${policy.builtinRules} or newer, but this build has ${BUILTIN_RULES_VERSION}`;
}

/** What the manifest records as `redaction.policyVersion`: `org-3+builtin-2`, the rules applied. */
export function policyVersionString(policy: Pick<RedactionPolicy, 'version'>): string {
  return `${policy.version}+${BUILTIN_RULES_VERSION}`;
}

// ---------------------------------------------------------------------------------------------
// Counts for the manifest (`redaction.counts`).

/** Markers of hidden input are counted under this key, beside the rule categories. */
export const HIDDEN_INPUT_COUNT = 'input-hidden';
/** A redaction whose rule id the caller cannot place (a rule since removed from the policy). */
export const UNCATEGORISED_COUNT = 'uncategorised';

export type CountKey = RuleCategory | typeof HIDDEN_INPUT_COUNT | typeof UNCATEGORISED_COUNT;
/** Redactions per category; categories with none are absent. Keys sorted, for a stable manifest. */
export type RedactionCounts = Readonly<Partial<Record<CountKey, number>>>;

/**
 * Counts markers by category, for the manifest and for recovery (which rebuilds the
 * counts from the markers in the spool). `categoryOf` maps a rule id to its category
 * (the engine's rule set knows; `known-secret` is always a known secret).
 */
export function countByCategory(
  markers: Iterable<Marker>,
  categoryOf: (ruleId: string) => RuleCategory | undefined,
): RedactionCounts {
  const counts = new Map<CountKey, number>();
  for (const marker of markers) {
    let key: CountKey;
    switch (marker.kind) {
      case 'input-hidden':
        key = HIDDEN_INPUT_COUNT;
        break;
      case 'redacted':
        key = categoryOf(marker.ruleId) ?? (marker.ruleId === 'known-secret' ? 'known-secret' : UNCATEGORISED_COUNT);
        break;
      default:
        return marker satisfies never;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return sortedCounts(counts);
}

/** The sum of several counts (one per recorded segment, say). */
export function addCounts(...parts: readonly RedactionCounts[]): RedactionCounts {
  const total = new Map<CountKey, number>();
  for (const part of parts) {
    for (const [key, value] of Object.entries(part) as [CountKey, number][]) total.set(key, (total.get(key) ?? 0) + value);
  }
  return sortedCounts(total);
}

function sortedCounts(counts: ReadonlyMap<CountKey, number>): RedactionCounts {
  const out: Partial<Record<CountKey, number>> = {};
  for (const key of [...counts.keys()].sort()) out[key] = counts.get(key)!;
  return out;
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += (out === '' ? '' : '.') + String(part);
  }
  return out;
}
