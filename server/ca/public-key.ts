/**
 * The client's public key, checked before anything of it reaches `ssh-keygen`: one OpenSSH
 * public key line (`type base64 [comment]`, RFC 4253 §6.6 / RFC 5656 §3.1 wire encoding) of a
 * type we certify. Refused, each with a message that says what to send instead: private keys,
 * certificates, other key types (DSA, NIST P-521, security keys), RSA below 3072 bits, several
 * lines, data that is not the key the line names.
 *
 * What is certified is the canonical `type base64` line rebuilt from the decoded key: the
 * client's comment never reaches the CA.
 */
import { createHash } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { MAX_PUBLIC_KEY_CHARS } from '../../shared/api/ca.ts';

export const CERTIFIABLE_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ssh-rsa'] as const;
export type CertifiableKeyType = (typeof CERTIFIABLE_KEY_TYPES)[number];

/** NIST SP 800-57: RSA below 3072 bits is below 128-bit security. */
export const MIN_RSA_BITS = 3072;
/** OpenSSH's own limit (SSHBUF_MAX_BIGNUM). */
const MAX_RSA_BITS = 16384;

export interface UserPublicKey {
  readonly type: CertifiableKeyType;
  /** The key's wire encoding (what the base64 holds). */
  readonly blob: Uint8Array;
  /** `type base64`, without the comment: what the CA signs. */
  readonly line: string;
  /** `SHA256:…`, exactly as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  readonly bits: number;
}

export class PublicKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublicKeyError';
  }
}

const ACCEPTED = 'send an OpenSSH public key line (the .pub file) of type ssh-ed25519 (recommended), ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, or ssh-rsa of at least 3072 bits';

/** Reads the wire encoding: uint32 lengths, strings, mpints (RFC 4251 §5). */
class WireReader {
  #offset = 0;
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  bytes(what: string): Uint8Array {
    if (this.#offset + 4 > this.#bytes.length) throw new PublicKeyError(`the key data ends before its ${what}`);
    const view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset + this.#offset, 4);
    const length = view.getUint32(0);
    this.#offset += 4;
    if (this.#offset + length > this.#bytes.length) throw new PublicKeyError(`the key data ends inside its ${what} (${length} bytes announced, ${this.#bytes.length - this.#offset} left)`);
    const out = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  text(what: string): string {
    return Buffer.from(this.bytes(what)).toString('latin1');
  }

  /** A positive mpint: its value's bit length and whether it is odd. */
  positiveInteger(what: string): { bits: number; odd: boolean } {
    const raw = this.bytes(what);
    if (raw.length === 0 || (raw[0]! & 0x80) !== 0) throw new PublicKeyError(`the key's ${what} is not a positive integer`);
    let start = 0;
    while (start < raw.length && raw[start] === 0) start++;
    if (start === raw.length) throw new PublicKeyError(`the key's ${what} is zero`);
    return { bits: (raw.length - start - 1) * 8 + (32 - Math.clz32(raw[start]!)), odd: (raw.at(-1)! & 1) === 1 };
  }

  end(): void {
    const left = this.#bytes.length - this.#offset;
    if (left !== 0) throw new PublicKeyError(`the key data has ${left} bytes after the key`);
  }
}

function isCertifiable(type: string): type is CertifiableKeyType {
  return (CERTIFIABLE_KEY_TYPES as readonly string[]).includes(type);
}

/** Checks the wire encoding of `type` and returns the key's size in bits. */
function checkKey(type: CertifiableKeyType, reader: WireReader): number {
  switch (type) {
    case 'ssh-ed25519': {
      const key = reader.bytes('Ed25519 point');
      if (key.length !== 32) throw new PublicKeyError(`an Ed25519 key is 32 bytes; this one is ${key.length}`);
      reader.end();
      return 256;
    }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384': {
      const curve = type === 'ecdsa-sha2-nistp256' ? 'nistp256' : 'nistp384';
      const named = reader.text('curve name');
      if (named !== curve) throw new PublicKeyError(`the key line says ${type} but its data names the curve ${JSON.stringify(named.slice(0, 40))}`);
      const point = reader.bytes('curve point');
      reader.end();
      try {
        (curve === 'nistp256' ? p256 : p384).Point.fromBytes(point).assertValidity();
      } catch {
        throw new PublicKeyError(`the key's point is not on the ${curve} curve`);
      }
      return curve === 'nistp256' ? 256 : 384;
    }
    case 'ssh-rsa': {
      const exponent = reader.positiveInteger('RSA exponent');
      const modulus = reader.positiveInteger('RSA modulus');
      reader.end();
      if (!exponent.odd || exponent.bits < 2) throw new PublicKeyError('the RSA exponent is not an odd number of at least 3');
      if (modulus.bits < MIN_RSA_BITS) throw new PublicKeyError(`an RSA key of ${modulus.bits} bits is too short: at least ${MIN_RSA_BITS} bits (better: ssh-ed25519)`);
      if (modulus.bits > MAX_RSA_BITS) throw new PublicKeyError(`an RSA key of ${modulus.bits} bits is longer than OpenSSH takes (${MAX_RSA_BITS})`);
      return modulus.bits;
    }
    default:
      return type satisfies never;
  }
}

export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses and checks one OpenSSH public key line; throws `PublicKeyError` saying what is wrong. */
export function parseUserPublicKey(input: string): UserPublicKey {
  if (input.length > MAX_PUBLIC_KEY_CHARS) throw new PublicKeyError(`the public key is ${input.length} characters; one OpenSSH public key line is at most ${MAX_PUBLIC_KEY_CHARS}`);
  // Said before anything else, and without echoing a byte of it.
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|PuTTY-User-Key-File/.test(input)) {
    throw new PublicKeyError('this is a private key: keep it on your machine and send only the public key (the .pub file)');
  }
  const text = input.replace(/\r?\n$/, '').trim();
  if (text === '') throw new PublicKeyError(`the public key is empty: ${ACCEPTED}`);
  if (/[\r\n]/.test(text)) throw new PublicKeyError(`the public key must be one line; this has ${text.split(/\r?\n|\r/).length} lines: ${ACCEPTED}`);
  if (text.startsWith('-----BEGIN') || text.startsWith('---- BEGIN')) throw new PublicKeyError(`this is a PEM or RFC 4716 block, not an OpenSSH public key line: ${ACCEPTED} (ssh-keygen -i converts one)`);
  const [type = '', data, ...rest] = text.split(/[ \t]+/);
  void rest; // the comment: dropped
  const shownType = JSON.stringify(type.slice(0, 60));
  if (type.endsWith('-cert-v01@openssh.com')) throw new PublicKeyError(`this is a certificate (${shownType}), not a public key: send the public key it was made for`);
  if (!isCertifiable(type)) throw new PublicKeyError(`key type ${shownType} is not accepted: ${ACCEPTED}`);
  if (data === undefined) throw new PublicKeyError(`the public key has no key data after its type ${type}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) throw new PublicKeyError('the key data (the second field) is not base64');
  const blob = new Uint8Array(Buffer.from(data, 'base64'));
  const reader = new WireReader(blob);
  const inner = reader.text('key type');
  if (inner !== type) throw new PublicKeyError(`the key line says ${type} but its data holds a key of type ${JSON.stringify(inner.slice(0, 60))}`);
  const bits = checkKey(type, reader);
  return { type, blob, line: `${type} ${data}`, fingerprint: fingerprintOf(blob), bits };
}
