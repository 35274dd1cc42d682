/**
 * The redaction engine's vocabulary, shared by the rules, the scanner, the
 * streaming redactor and the recorder. Pure: runs in Node and in the browser.
 */

export type RuleCategory =
  | 'provider-token'
  | 'private-key'
  | 'jwt'
  | 'connection-string'
  | 'assignment'
  | 'auth-header'
  | 'kubernetes-secret'
  | 'high-entropy'
  | 'known-secret'
  | 'org-rule';

/**
 * One detection rule. Rules are data: the scanner compiles `pattern` with re2js
 * (RE2 syntax: linear time, no backreferences or lookaround) and only runs it in
 * a window around an occurrence of one of its keywords, found by one
 * Aho-Corasick pass over the text.
 */
export interface SecretRule {
  /** Kebab-case and unique: `github-pat`, `aws-access-key-id`. Appears in markers and counts. */
  readonly id: string;
  /** Bumped whenever the pattern or the accept check changes meaning. */
  readonly version: number;
  readonly description: string;
  readonly category: RuleCategory;
  /**
   * Lower-case literals; the rule is tried only where one occurs (matching is
   * case-insensitive). A rule with no keywords is only run by the token pass
   * (the generic high-entropy rule).
   */
  readonly keywords: readonly string[];
  /** RE2 syntax. Flags go inline: `(?i)` for case-insensitive, `(?s)` to let `.` cross newlines. */
  readonly pattern: string;
  /** Capture group holding the secret itself; 0 (default) = the whole match. Only this part is masked. */
  readonly secretGroup?: number;
  /**
   * How far (in UTF-16 units) before a keyword occurrence the match may start, and
   * after its end the match may end. Default { before: 64, after: 256 }. The window
   * also bounds the streaming holdback: text is held while a window is still open.
   */
  readonly window?: {
    readonly before: number;
    readonly after: number;
    /**
     * Where a match ends at the latest, when that is sooner than `after`: `line`, the keyword's
     * own line (the window stops at the next line break); `token`, the run of token characters
     * the keyword ends in; `block`, the END line of a private-key block; `map`, a YAML or JSON
     * map opened on the keyword's line (its closing `}`, or the first line after it that is not
     * indented). Keeps re2js off text the rule cannot match, and lets the stream release text
     * once the line, token, block or map is over.
     */
    readonly within?: 'line' | 'token' | 'block' | 'map';
  };
  /**
   * Cheap context checks on a keyword hit before the pattern runs at all: one of
   * `anyOf` must occur within `within` characters before the keyword / after it.
   * Keywords such as "token" or "key" are common in prose; an assignment needs
   * an `=` or `:` next to its name, a CLI flag a `-` before it.
   */
  readonly near?: {
    readonly before?: { readonly within: number; readonly anyOf: string };
    readonly after?: { readonly within: number; readonly anyOf: string };
  };
  /**
   * The pattern written out as plain code, for a rule that runs on nearly every line (the
   * generic rule sees every token run): re2js costs microseconds per call. Calls `found` with
   * each secret (what `secretGroup` selects) of text[from, to), exactly what the pattern would
   * find there, leftmost-first; rules.test.ts holds the two to agreement on random and corpus
   * text. The pattern stays the rule's definition (docs, org-rule tooling).
   */
  readonly find?: (text: string, from: number, to: number, found: (start: number, end: number) => void) => void;
  /**
   * Further check on the candidate secret (entropy, checksum, allowlist). False: not a secret.
   * `text` and `start` place it in the scanned text, for checks that read what comes before it
   * (a Go module hash is base64 after `h1:`).
   */
  readonly accept?: (secret: string, text: string, start: number) => boolean;
}

/** A secret found in scanned text: [start, end) in UTF-16 units. */
export interface SecretSpan {
  readonly start: number;
  readonly end: number;
  readonly ruleId: string;
}

/**
 * Work done, for the linear-time proof: characters stepped by the prefilter and
 * token pass, plus the length of every window handed to re2js (itself linear in
 * its input). Tests assert steps ≤ c · text length on pathological input.
 */
export interface StepCounter {
  steps: number;
}
