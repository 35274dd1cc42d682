/**
 * Keyed fingerprints of redacted secrets. A redaction marker carries one, so that an
 * auditor holding the org redaction key can tell whether a secret they have in hand
 * (a leaked token, a rotated password) was on screen in a session, without the
 * recording ever holding the secret, a plain hash of it (which anyone could test
 * guesses against), or any part of it. Pure: runs in Node and in the browser.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../bundle/bytes.ts';

/** An org redaction key. Used for fingerprints only, never for anything else. */
export interface RedactionKey {
  /** Names the key in markers and policies: 1–64 of `A–Z a–z 0–9 . _ -` (no `:`, no space). */
  readonly keyId: string;
  /** At least 16 bytes; 32 random bytes recommended. */
  readonly key: Uint8Array;
}

export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const MIN_KEY_BYTES = 16;
/** HMAC-SHA256 truncated to 128 bits (NIST SP 800-107 §5.3.4 allows truncation; 128 bits is far beyond brute force). */
export const FINGERPRINT_BYTES = 16;
/** `<keyId>:<32 lower-case hex digits>` */
export const FINGERPRINT_PATTERN = /^[A-Za-z0-9._-]{1,64}:[0-9a-f]{32}$/;

/**
 * How many digests are tried before giving up on avoiding a chance overlap with the
 * secret (see `fingerprint`). A secret needs thousands of distinct hex 4-grams before
 * even one attempt is likely to collide; all of them collide only for secrets of
 * several tens of kilobytes of hex.
 */
const MAX_ATTEMPTS = 256;

export function isFingerprint(text: string): boolean {
  return FINGERPRINT_PATTERN.test(text);
}

/** Checks a key's id and length; throws with what is wrong. Returns the key for chaining. */
export function checkRedactionKey(key: RedactionKey): RedactionKey {
  if (!KEY_ID_PATTERN.test(key.keyId)) {
    throw new Error(`redaction key id ${JSON.stringify(key.keyId)} must be 1-64 of A-Z a-z 0-9 . _ -`);
  }
  if (key.key.length < MIN_KEY_BYTES) {
    throw new Error(`redaction key ${key.keyId} is ${key.key.length} bytes; at least ${MIN_KEY_BYTES} are needed`);
  }
  return key;
}

/**
 * `<keyId>:<hex>`: HMAC-SHA256(key, UTF-8 of the secret), first 16 bytes, lower-case
 * hex. So an auditor can reproduce it with standard tools
 * (`printf %s "$secret" | openssl dgst -sha256 -hmac …`, first 32 digits).
 *
 * One exception keeps a marker from ever holding a piece of the secret even by
 * chance: if those 32 digits share a run of 4 characters with the secret (compared
 * case-insensitively: a hex token has a ~2 % chance per redaction), the digest under
 * the sub-key HMAC(key, "custody fingerprint retry <n>") is used instead, for
 * n = 1, 2, … until one shares nothing. The result is still a deterministic function
 * of key and secret, which is all matching needs.
 */
export function fingerprint(key: RedactionKey, secret: string): string {
  checkRedactionKey(key);
  const message = utf8(secret);
  const fragments = lowerCaseFragments(secret, 4);
  let first: string | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const attemptKey = attempt === 0 ? key.key : hmac(sha256, key.key, utf8(`custody fingerprint retry ${attempt}`));
    const digest = toHex(hmac(sha256, attemptKey, message).subarray(0, FINGERPRINT_BYTES));
    first ??= digest;
    if (!sharesFragment(digest, fragments, 4)) return `${key.keyId}:${digest}`;
  }
  // Unreachable for any secret a terminal shows (see MAX_ATTEMPTS); the overlap left is
  // 4 characters of a secret tens of kilobytes long, by chance.
  return `${key.keyId}:${first!}`;
}

/**
 * A key for development and tests, derived from a seed: the same seed always gives
 * the same key. Its id starts with `dev-`, so a bundle fingerprinted with one is
 * recognisable as such. Never for production: anyone who knows the seed has the key.
 */
export function devRedactionKey(seed: string): RedactionKey {
  const key = sha256(utf8(`custody dev redaction key\u0000${seed}`));
  const keyId = `dev-${toHex(sha256(key)).slice(0, 8)}`;
  return { keyId, key };
}

// ---------------------------------------------------------------------------------------------

function lowerCaseFragments(text: string, length: number): Set<string> {
  const lower = text.toLowerCase();
  const fragments = new Set<string>();
  for (let i = 0; i + length <= lower.length; i++) fragments.add(lower.slice(i, i + length));
  return fragments;
}

function sharesFragment(text: string, fragments: ReadonlySet<string>, length: number): boolean {
  for (let i = 0; i + length <= text.length; i++) if (fragments.has(text.slice(i, i + length))) return true;
  return false;
}
