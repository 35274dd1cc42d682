/**
 * Known secrets: values the app itself injected into the session (a password it
 * typed at a prompt, a token it put in the environment). We know them exactly, so
 * they are masked by value wherever they show up in the output, and in the
 * encodings a terminal commonly shows them in: base64 and base64url (any
 * alignment inside a longer stream), percent-encoding, hex, and JSON string
 * escaping. Pure: runs in Node and in the browser.
 */
import { toBase64, toHex, utf8 } from '../bundle/bytes.ts';
import type { SecretRule } from './types.ts';

/**
 * Secrets shorter than this many code points produce no forms at all. A literal of
 * one to three characters turns up by chance all over ordinary output (`ab`, `123`),
 * so masking every occurrence would blank unrelated text, and where the masks fall
 * would itself spell the secret out; a secret that short is also guessed in
 * moments, so there is nothing left to protect. At four code points and more every
 * form below is at least four characters long (four UTF-8 bytes give at least four
 * fully determined base64 characters in every alignment).
 */
export const MIN_KNOWN_SECRET_LENGTH = 4;

/** No form shorter than this is ever emitted (see MIN_KNOWN_SECRET_LENGTH). */
const MIN_FORM_LENGTH = 4;

/** Literal strings whose occurrence means the known secret is present (deduplicated, each at least 4 chars). */
export function knownSecretForms(secret: string): readonly string[] {
  // A lone surrogate cannot cross UTF-8 (the pty, the recording): it arrives as U+FFFD.
  const value = secret.toWellFormed();
  if (codePointLength(value) < MIN_KNOWN_SECRET_LENGTH) return [];
  const bytes = utf8(value);
  const forms = new Set<string>([value]);

  // JSON string escaping (`docker inspect`, `kubectl get -o json` on non-base64 fields).
  forms.add(JSON.stringify(value).slice(1, -1));

  for (const alphabet of ['standard', 'url'] as const) {
    const standalone = base64(bytes, alphabet);
    forms.add(standalone);
    forms.add(standalone.replace(/=+$/, ''));
    for (let offset = 0; offset < 3; offset++) forms.add(base64Inner(bytes, offset, alphabet));
  }

  for (const safe of PERCENT_SAFE_SETS) {
    for (const upper of [true, false]) {
      for (const plusForSpace of [false, true]) forms.add(percentEncode(bytes, safe, upper, plusForSpace));
    }
  }

  const hex = toHex(bytes);
  forms.add(hex);
  forms.add(hex.toUpperCase());

  return [...forms].filter((form) => form.length >= MIN_FORM_LENGTH);
}

/**
 * One rule matching any form of any of the given secrets, for the scanner, or
 * `undefined` when none of them yields a form. Keywords are the forms lower-cased
 * (the prefilter is case-insensitive); the pattern matches the forms
 * case-sensitively, except the hex forms, which match in any case.
 */
export function knownSecretRule(secrets: readonly string[]): SecretRule | undefined {
  const literal = new Set<string>();
  const hexLower = new Set<string>();
  for (const secret of secrets) {
    const forms = knownSecretForms(secret);
    const bytes = utf8(secret.toWellFormed());
    const hex = toHex(bytes);
    for (const form of forms) {
      if (form.length === hex.length && form.toLowerCase() === hex) hexLower.add(hex);
      else literal.add(form);
    }
  }
  const alternatives = [
    ...[...literal].map((form) => ({ length: form.length, source: escapeRe2(form) })),
    ...[...hexLower].map((form) => ({ length: form.length, source: `(?i:${form})` })),
  ];
  if (alternatives.length === 0) return undefined;
  // RE2 alternation is leftmost-first: longest first, so that where one form is a
  // prefix of another (`cGFzcw` and `cGFzcw==`) the whole of the longer is masked.
  alternatives.sort((a, b) => b.length - a.length);
  const keywords = new Set<string>();
  for (const form of literal) keywords.add(form.toLowerCase());
  for (const form of hexLower) keywords.add(form);
  return {
    id: 'known-secret',
    version: 1,
    description: 'A value the app itself injected (password, token), verbatim or base64, base64url, percent, hex or JSON encoded',
    category: 'known-secret',
    keywords: [...keywords],
    pattern: alternatives.map((alternative) => alternative.source).join('|'),
    secretGroup: 0,
    // Every form is itself a keyword, and a match is exactly one form: nothing
    // outside the keyword occurrence can belong to it, so nothing needs holding back.
    window: { before: 0, after: 0 },
  };
}

// ---------------------------------------------------------------------------------------------

function codePointLength(text: string): number {
  return Array.from(text).length;
}

function base64(bytes: Uint8Array, alphabet: 'standard' | 'url'): string {
  const text = toBase64(bytes);
  return alphabet === 'url' ? text.replaceAll('+', '-').replaceAll('/', '_') : text;
}

/**
 * The base64 characters that depend on the secret's bytes alone when the secret
 * starts `offset` bytes (0, 1 or 2) into a 3-byte group of a longer stream.
 * Character k carries bits [6k, 6k+6) of the stream and the secret occupies bits
 * [8·offset, 8·(offset+n)), so k runs from ⌈8·offset/6⌉ to ⌊8·(offset+n)/6⌋ (exclusive):
 * the one edge character each side that mixes in a neighbour's bits is left out.
 * Whatever surrounds the secret, its base64 contains this substring (RFC 4648 §4).
 */
function base64Inner(bytes: Uint8Array, offset: number, alphabet: 'standard' | 'url'): string {
  const shifted = new Uint8Array(offset + bytes.length);
  shifted.set(bytes, offset);
  const start = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * (offset + bytes.length)) / 6);
  return base64(shifted, alphabet).slice(start, end);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * The bytes each common percent-encoder leaves as they are; everything else,
 * including every byte of a multi-byte UTF-8 sequence, becomes %XX.
 */
const PERCENT_SAFE_SETS: readonly ReadonlySet<number>[] = [
  // RFC 3986 §2.3 unreserved: curl --data-urlencode, Go url.QueryEscape, Python quote_plus.
  ALNUM + '-._~',
  // Python urllib.parse.quote (safe='/' by default).
  ALNUM + '-._~/',
  // ECMAScript encodeURIComponent.
  ALNUM + "-_.!~*'()",
  // WHATWG application/x-www-form-urlencoded (URLSearchParams, HTML forms).
  ALNUM + '*-._',
].map((chars) => new Set([...chars].map((c) => c.charCodeAt(0))));

function percentEncode(bytes: Uint8Array, safe: ReadonlySet<number>, upper: boolean, plusForSpace: boolean): string {
  let out = '';
  for (const byte of bytes) {
    if (safe.has(byte)) out += String.fromCharCode(byte);
    else if (byte === 0x20 && plusForSpace) out += '+';
    else {
      const hex = byte.toString(16).padStart(2, '0');
      out += '%' + (upper ? hex.toUpperCase() : hex);
    }
  }
  return out;
}

/**
 * A literal for RE2: ASCII punctuation is backslash-escaped (RE2 accepts `\` before
 * any punctuation and nothing else), control characters are written `\x{..}`,
 * everything else stands for itself.
 */
function escapeRe2(literal: string): string {
  let out = '';
  for (const char of literal) {
    const code = char.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) out += `\\x{${code.toString(16)}}`;
    else if (code < 0x80 && /[!-/:-@[-`{-~]/.test(char)) out += '\\' + char;
    else out += char;
  }
  return out;
}
