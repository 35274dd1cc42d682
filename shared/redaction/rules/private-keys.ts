/**
 * Private key blocks: PEM (PKCS#1, PKCS#8, SEC 1, encrypted PEM), OpenSSH, PuTTY-less PGP
 * armour. Masked whole, from BEGIN to END, up to a 16 KiB cap (RSA 8192-bit PEM is about
 * 6.5 KiB). A block whose END has not arrived is masked through its base64 lines, so that a
 * truncated key (`head id_rsa`) does not leak either.
 */
import type { SecretRule } from '../types.ts';

export const PRIVATE_KEY_CAP = 16 * 1024;

const BEGIN = String.raw`-----BEGIN[ A-Z0-9]{0,32}PRIVATE KEY(?: BLOCK)?-----`;
const END = String.raw`-----END[ A-Z0-9]{0,32}PRIVATE KEY(?: BLOCK)?-----`;
/** Between lines: a line break (raw, or escaped in a JSON string), or a space where a key was flattened into one line. */
const BREAK = String.raw`(?:\r?\n|\\r\\n|\\n|[ \t])`;
/** One line of a block: base64, or an RFC 1421 / RFC 4716 header (`Proc-Type: 4,ENCRYPTED`). */
const LINE = String.raw`(?:[A-Za-z0-9+/=]+|(?:Proc-Type|DEK-Info|Comment|Version|Hash): [^\r\n\\]{1,128})`;

/**
 * BEGIN, then lines, then END if it is there. Deliberately not `BEGIN(?s:.)*?END`: with that, a
 * BEGIN without END makes every search scan to the end of the window before giving up, and
 * many of them in one window cost quadratic time. Here each match is decided by the characters
 * it covers plus a few after, and an unterminated block is masked through its last base64
 * line (line breaks after it stay unmasked: they are not cells).
 */
const BLOCK = `${BEGIN}(?:${BREAK}{1,2}${LINE})*(?:${BREAK}{1,2}${END})?`;

export const PRIVATE_KEY_RULES: readonly SecretRule[] = [
  {
    id: 'private-key-block',
    version: 1,
    description: 'PEM, OpenSSH or PGP private key block, BEGIN line through END line (16 KiB cap)',
    category: 'private-key',
    keywords: ['-----begin'],
    pattern: BLOCK,
    window: { before: 0, after: PRIVATE_KEY_CAP, within: 'block' },
  },
  {
    id: 'gcp-service-account-key',
    version: 1,
    description: 'Google Cloud service-account JSON: the "private_key" string value',
    category: 'private-key',
    keywords: ['"private_key"'],
    pattern: String.raw`"private_key"\s*:\s*"(-----BEGIN[^"]{16,})"`,
    secretGroup: 1,
    window: { before: 0, after: PRIVATE_KEY_CAP, within: 'line' },
  },
];
