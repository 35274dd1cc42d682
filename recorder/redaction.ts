/**
 * The record path's redaction hook. Everything recorded passes through a
 * Redactor before it is hashed or written. The display path never does.
 *
 * This file holds the interface and the pass-through used until the redaction
 * engine (shared/redaction/) lands; a redactor may hold text back (a tail that
 * could still become a secret) and must give it all up on flush().
 */
import type { RedactionPolicyRef } from './protocol.ts';

export type RedactedPiece =
  | { readonly kind: 'text'; readonly text: string }
  /** Becomes an asciicast `m` event: a redaction or a hidden-input marker. */
  | { readonly kind: 'marker'; readonly label: string };

export interface Redactor {
  readonly policyVersion: string;
  output(text: string): RedactedPiece[];
  input(text: string): RedactedPiece[];
  /** Releases anything held back (at idle, before a checkpoint, at exit). */
  flush(): RedactedPiece[];
  /** Redactions made so far, by category; goes into the manifest. */
  counts(): Record<string, number>;
}

export interface RedactorFactory {
  (policy: RedactionPolicyRef, knownSecrets: readonly string[]): Redactor;
}

export const passThroughRedactor: RedactorFactory = (policy) => ({
  policyVersion: policy.version,
  output: (text) => [{ kind: 'text', text }],
  input: (text) => [{ kind: 'text', text }],
  flush: () => [],
  counts: () => ({}),
});
