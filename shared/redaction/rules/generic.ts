/**
 * The generic high-entropy rule: no keyword, run by the scanner's token pass on every run of
 * token characters. Catches secrets without a known prefix or context (random API keys, base64
 * keys), minus the allowlist of random-looking text that is not secret.
 */
import { allowlistReason, isHex, looksRandom } from '../entropy.ts';
import type { SecretRule } from '../types.ts';

/** The pattern's class: token characters without the `.`, `:` and `=` that split pieces. */
const PIECE_CHAR = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/_-~') PIECE_CHAR[c.charCodeAt(0)] = 1;
const PIECE_MIN = 20;

/** `[A-Za-z0-9+/_\-~]{20,}={0,2}` in plain code: the scanner calls it on every token run. */
function findPieces(text: string, from: number, to: number, found: (start: number, end: number) => void): void {
  let i = from;
  while (i < to) {
    const start = i;
    while (i < to) {
      const code = text.charCodeAt(i);
      if (code >= 128 || PIECE_CHAR[code] !== 1) break;
      i++;
    }
    if (i - start >= PIECE_MIN) {
      let end = i;
      while (end < to && end - i < 2 && text.charCodeAt(end) === 0x3d) end++;
      found(start, end);
      i = end;
    }
    if (i === start) i++;
  }
}

/**
 * A Go module hash (go.sum, `go mod download -json`): `h1:` then base64 of a SHA-256, 43
 * characters and one `=`. The token pass splits at `:`, so the piece alone cannot tell; the
 * text before it can.
 */
const GO_MODULE_HASH = /^[A-Za-z0-9+/]{43}=$/;

function isGoModuleHash(token: string, text: string, start: number): boolean {
  // The prefix first: it is one comparison, and almost no candidate has it.
  return text.startsWith('h1:', start - 3) && GO_MODULE_HASH.test(token);
}

export const GENERIC_RULES: readonly SecretRule[] = [
  {
    id: 'generic-high-entropy',
    version: 2,
    description: 'A token of 20+ base64/base62 characters that reads as random (mixed classes, entropy near the maximum), unless allowlisted (git SHAs, UUIDs, checksums, digests, Go module hashes, AWS resource ids, base64 of prose, pod names, paths)',
    category: 'high-entropy',
    keywords: [],
    // Pieces of a token run split at `.`, `:` and `=` (assignments, JWT-like and dotted names
    // are other rules' business); base64 padding stays with its piece.
    pattern: String.raw`[A-Za-z0-9+/_\-~]{20,}={0,2}`,
    window: { before: 0, after: 0 },
    find: findPieces,
    accept: (token, text, start) => {
      if (allowlistReason(token) !== undefined || isHex(token)) return false;
      if (isGoModuleHash(token, text, start)) return false;
      const core = token.replace(/=+$/, '');
      // Dashed or underscored words (`my-long-service-name-2`) are names, not keys.
      const pieces = core.split(/[-_~]/);
      if (pieces.length > 2 && pieces.every((p) => p.length <= 12)) return false;
      return looksRandom(core);
    },
  },
];
