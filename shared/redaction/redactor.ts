/**
 * The record path's redaction hook, as the recorder sees it. Everything that is
 * recorded passes through a Redactor before it is hashed or written; the display
 * path never does. A redactor may hold text back (a tail that could still turn
 * out to be a secret) and gives it up on idle() and end().
 */

export type RedactedPiece =
  | { readonly kind: 'text'; readonly text: string }
  /** Becomes an asciicast `m` event: a redaction or a hidden-input marker. */
  | { readonly kind: 'marker'; readonly label: string };

export interface Redactor {
  /** The policy version string, for the manifest. */
  readonly policyVersion: string;
  output(text: string): RedactedPiece[];
  input(text: string): RedactedPiece[];
  /** The terminal was resized: soft wraps move. */
  resize(cols: number): void;
  /** No output for a while: release the output held, masking what is a secret as it stands. */
  idle(): RedactedPiece[];
  /** Releases a partly typed input line (idle, end): pieces of input, not output. */
  flushInput(): RedactedPiece[];
  /**
   * A key is being recorded: held complete lines go first (masked as they stand), so the
   * recording keeps output and keys in order; the line being typed stays held.
   */
  releaseOutput(): RedactedPiece[];
  /** The stream ended: release all held output (then call flushInput for the input). */
  end(): RedactedPiece[];
  /** Whether anything is held back (the caller schedules idle()). */
  readonly holding: boolean;
  /** Redactions made so far, by category; goes into the manifest. */
  counts(): Record<string, number>;
}

/** Records everything as it is: for tests of the recorder itself, never for a privileged session. */
export function passThroughRedactor(policyVersion: string): Redactor {
  return {
    policyVersion,
    output: (text) => [{ kind: 'text', text }],
    input: (text) => [{ kind: 'text', text }],
    resize: () => undefined,
    idle: () => [],
    releaseOutput: () => [],
    flushInput: () => [],
    end: () => [],
    holding: false,
    counts: () => ({}),
  };
}
