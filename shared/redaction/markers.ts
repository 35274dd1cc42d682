/**
 * The labels of the asciicast `m` (marker) events the redactor writes. They are the
 * only trace a redaction leaves, so they carry the rule id and the keyed fingerprint
 * and nothing else: no length, no offset, no excerpt. The marker's place in the
 * stream is the only position hint. The recorder writes them, the viewer and the
 * verifier show them, and recovery counts them. Pure: runs in Node and in the browser.
 */
import { isFingerprint } from './fingerprint.ts';

/** Kebab-case rule ids, as built-in and org rules use: `github-pat`, `acme-deploy-key`. */
export const RULE_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const MAX_RULE_ID_LENGTH = 64;

/**
 * Why input was withheld:
 * - `echo-off`: the local pty's ECHO flag was clear (termios);
 * - `password-prompt`: the prompt detector saw a password prompt on screen;
 * - `no-echo`: remote session, and the keys typed never came back in the output.
 */
export type HiddenInputReason = 'echo-off' | 'password-prompt' | 'no-echo';

export type Marker =
  | { readonly kind: 'redacted'; readonly ruleId: string; readonly fingerprint: string }
  | { readonly kind: 'input-hidden'; readonly reason: HiddenInputReason };

const REDACTED_PREFIX = 'redacted ';

const HIDDEN_INPUT_LABELS: Readonly<Record<HiddenInputReason, string>> = {
  'echo-off': 'input hidden: echo off',
  'password-prompt': 'input hidden: password prompt',
  'no-echo': 'input hidden: no echo',
};

const HIDDEN_INPUT_BY_LABEL = new Map<string, HiddenInputReason>(
  Object.entries(HIDDEN_INPUT_LABELS).map(([reason, label]) => [label, reason as HiddenInputReason]),
);

export function isRuleId(text: string): boolean {
  return text.length <= MAX_RULE_ID_LENGTH && RULE_ID_PATTERN.test(text);
}

/** `redacted <ruleId> <keyId>:<hex>`. Throws if either part is not of its exact form, so nothing else can ride along. */
export function redactionMarker(ruleId: string, fingerprint: string): string {
  if (!isRuleId(ruleId)) throw new Error(`redaction marker: rule id ${JSON.stringify(ruleId)} is not kebab-case (max ${MAX_RULE_ID_LENGTH})`);
  if (!isFingerprint(fingerprint)) throw new Error('redaction marker: the fingerprint is not of the form <keyId>:<32 hex digits>');
  return `${REDACTED_PREFIX}${ruleId} ${fingerprint}`;
}

/** `input hidden: echo off` | `input hidden: password prompt` | `input hidden: no echo` */
export function hiddenInputMarker(reason: HiddenInputReason): string {
  return HIDDEN_INPUT_LABELS[reason];
}

export function markerLabel(marker: Marker): string {
  switch (marker.kind) {
    case 'redacted':
      return redactionMarker(marker.ruleId, marker.fingerprint);
    case 'input-hidden':
      return hiddenInputMarker(marker.reason);
    default:
      return marker satisfies never;
  }
}

/**
 * The marker a label stands for, or `undefined` if it is not exactly one of ours
 * (a user's own marker, or a label with anything extra in it).
 */
export function parseMarker(label: string): Marker | undefined {
  const reason = HIDDEN_INPUT_BY_LABEL.get(label);
  if (reason !== undefined) return { kind: 'input-hidden', reason };
  if (!label.startsWith(REDACTED_PREFIX)) return undefined;
  const parts = label.slice(REDACTED_PREFIX.length).split(' ');
  if (parts.length !== 2) return undefined;
  const [ruleId, fingerprint] = parts as [string, string];
  if (!isRuleId(ruleId) || !isFingerprint(fingerprint)) return undefined;
  return { kind: 'redacted', ruleId, fingerprint };
}
