/**
 * Randomness measures and the allowlist of terminal text that looks random but is not a secret.
 * Used by the generic high-entropy rule and by the `accept` checks of the other rules.
 */

/** Shannon entropy of the UTF-16 units of `text`, in bits per unit. 0 for the empty string. */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

export interface CharClassCounts {
  readonly lower: number;
  readonly upper: number;
  readonly digit: number;
  readonly other: number;
}

export function charClassCounts(text: string): CharClassCounts {
  let lower = 0;
  let upper = 0;
  let digit = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 97 && c <= 122) lower++;
    else if (c >= 65 && c <= 90) upper++;
    else if (c >= 48 && c <= 57) digit++;
    else other++;
  }
  return { lower, upper, digit, other };
}

export const isHex = (text: string): boolean => /^[0-9a-fA-F]+$/.test(text);
export const isBase64Alphabet = (text: string): boolean => /^[A-Za-z0-9+/]+={0,2}$/.test(text);

/** Lengths of hex digests: MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512. */
const HEX_DIGEST_LENGTHS = new Set([32, 40, 56, 64, 96, 128]);

// These run on one bounded token at a time (at most a few KiB) and have no nested quantifiers,
// so the built-in RegExp engine is safe here.
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** `sha256:<hex>` (OCI/Docker image digests), `sha512-<base64>` (npm SRI integrity), and kin. */
const DIGEST = /^(?:sha1|sha256|sha384|sha512|md5)[:-][A-Za-z0-9+/=]{16,}$/i;
/** A Kubernetes pod or ReplicaSet name: lower-case DNS label parts, e.g. `web-7d9f8b6c5d-x2x7q`. */
const KUBERNETES_NAME = /^[a-z0-9]+(?:[-.][a-z0-9]+)*-[a-z0-9]{5,10}(?:-[a-z0-9]{5})?$/;
/**
 * An AWS resource id: a resource-type prefix, then 8 or 17 lower-case hex digits
 * (`vpc-0a1b2c3d4e5f67890`, `ami-…`, `subnet-…`). AWS secret keys are 40 base64 characters.
 */
const AWS_RESOURCE_ID = /^(?:ami|i|vpc|subnet|sg|vol|snap|eni|igw|nat|rtb|acl|eipalloc|eipassoc|lt|tgw|tgw-attach|pcx|vpce|fs|fsmt|dopt|cgw|vgw|vpn|r|aki|ari|pl|prefix|rtbassoc|sir|fleet|host|elb|db|cluster)-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
/** A filesystem path or the part of a URL after `scheme:` (the token pass splits at `:`). */
const PATH_START = /^(?:\/|~\/|\.{1,2}\/)/;

export type AllowlistReason =
  | 'git-sha'
  | 'hex-digest'
  | 'uuid'
  | 'digest'
  | 'kubernetes-name'
  | 'path'
  | 'aws-resource-id'
  | 'base64-prose';

/**
 * Why `token` is a known non-secret that merely looks random, or undefined. Conservative: each
 * entry is a shape that real secrets do not take (pure hex of a digest length, a UUID, a
 * path with at least one word-like segment).
 */
export function allowlistReason(token: string): AllowlistReason | undefined {
  if (isHex(token)) {
    if (token.length >= 7 && token.length <= 40 && token.length !== 32) return 'git-sha';
    if (HEX_DIGEST_LENGTHS.has(token.length)) return 'hex-digest';
  }
  if (UUID.test(token)) return 'uuid';
  if (DIGEST.test(token)) return 'digest';
  if (KUBERNETES_NAME.test(token)) return 'kubernetes-name';
  if (AWS_RESOURCE_ID.test(token)) return 'aws-resource-id';
  if (isBase64Prose(token)) return 'base64-prose';
  if (PATH_START.test(token) && !token.includes('+') && !/=$/.test(token)) {
    // Base64 may start with `/` too; a path has a segment that reads like a name.
    const segments = token.split('/').filter((s) => s.length > 0);
    if (segments.length === 0 || segments.some((s) => !looksRandom(s))) return 'path';
  }
  return undefined;
}

/** Sentences need room: shorter base64 is a word or two, as likely a password as not. */
const PROSE_MIN_CHARS = 24;
const PROSE_MIN_SPACES = 3;

/**
 * Base64 of a sentence or a log line (`echo 'deploy finished with 0 errors' | base64`): it
 * decodes to printable ASCII with at least three spaces, mostly letters and digits. Keys and
 * tokens decode to bytes (24 random bytes are all printable once in 10^10);
 * a password or a `user:password` pair has no spaces. What this lets through is a
 * passphrase of four or more words printed as base64 with no keyword near it; assignments,
 * Kubernetes Secrets and Basic headers carrying one are their own rules' business.
 */
export function isBase64Prose(token: string): boolean {
  if (!isBase64Alphabet(token) || token.length % 4 !== 0) return false;
  let decoded: string;
  try {
    decoded = atob(token);
  } catch {
    return false;
  }
  if (decoded.length < PROSE_MIN_CHARS) return false;
  let spaces = 0;
  let alphanumerics = 0;
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    const printable = (c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x09 || c === 0x0d;
    if (!printable) return false;
    if (c === 0x20) spaces++;
    else if (((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || (c >= 0x30 && c <= 0x39)) alphanumerics++;
  }
  // Words and numbers between the spaces: most of a log line is letters and digits.
  return spaces >= PROSE_MIN_SPACES && alphanumerics >= decoded.length / 2;
}

/**
 * Whether `text` reads like machine randomness (keys, tokens) rather than words, names,
 * identifiers or numbers: mixed character classes and entropy close to what random text of
 * that length over that alphabet would have.
 */
export function looksRandom(text: string): boolean {
  if (text.length < 16) return false;
  const { lower, upper, digit } = charClassCounts(text);
  const letters = lower + upper;
  if (letters === 0 || digit === 0) return false;
  if (lower === 0 && upper > 0 && text.length < 24) return false;
  const alphabet = (lower > 0 ? 26 : 0) + (upper > 0 ? 26 : 0) + 10;
  // Expected entropy of n units drawn uniformly from k symbols is about log2(min(n, k)) minus a
  // small-sample shortfall; 78 % of that separates random tokens from identifiers in our corpus.
  const ceiling = Math.log2(Math.min(text.length, alphabet));
  if (shannonEntropy(text) < 0.78 * ceiling) return false;
  // Words change character class only at their boundaries (`TestCase1234ForUser`: 4 changes in
  // 19 steps); uniform random base62 changes class at about 62 % of its steps, base32 at 40 %.
  if (classChangeRatio(text) < 0.3) return false;
  // CamelCase identifiers change class often but are made of words: runs of 3+ lower-case
  // letters cover most of them, and rarely more than half of random base62 of the same length.
  let wordy = 0;
  for (const match of text.matchAll(/[A-Z]?[a-z]{3,}/g)) wordy += match[0].length;
  return wordy / text.length < 0.6;
}

/** Fraction of adjacent pairs whose character classes (lower, upper, digit, other) differ. */
export function classChangeRatio(text: string): number {
  if (text.length < 2) return 0;
  const classOf = (c: number): number =>
    c >= 97 && c <= 122 ? 0 : c >= 65 && c <= 90 ? 1 : c >= 48 && c <= 57 ? 2 : 3;
  let changes = 0;
  let previous = classOf(text.charCodeAt(0));
  for (let i = 1; i < text.length; i++) {
    const current = classOf(text.charCodeAt(i));
    if (current !== previous) changes++;
    previous = current;
  }
  return changes / (text.length - 1);
}

/** Documentation placeholders and template references that stand where a secret would. */
export function isPlaceholder(value: string): boolean {
  const v = value.trim();
  if (v.length === 0) return true;
  if (/^[$%]\{[^}]*\}?$|^\$\(|^\$[A-Za-z_][A-Za-z0-9_]*$|^\{\{.*\}\}$|^<[^>]*>$|^%[sdv]$|^\[[^\]]*\]$/.test(v)) return true;
  if (/^[*•xX.#?_-]+$/.test(v)) return true; // ****, xxxx, ..., ????
  if (/^(?:null|nil|none|undefined|true|false|yes|no|on|off|required|optional|string|example|redacted|hidden|secret|password|token|changeit)$/i.test(v)) return true;
  if (/^(?:your|my|enter|insert|put|replace)[-_ ]/i.test(v)) return true;
  if (/(?:^|[-_])(?:here|placeholder)$/i.test(v)) return true;
  return false;
}
