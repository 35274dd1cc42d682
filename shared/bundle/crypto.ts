/**
 * The two primitives the format needs, behind one small interface so that
 * the same pure code runs everywhere: the default suite is @noble (pure JS,
 * Node and browser); Node callers pass the node:crypto suite from
 * `node-adapters/crypto.ts`, which hashes several times faster.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { toHex } from './bytes.ts';

export interface CryptoSuite {
  /** SHA-256 over the concatenation of `parts` (no copy needed by the caller). */
  sha256(...parts: Uint8Array[]): Uint8Array;
  /** Ed25519 (RFC 8032, pure) signature check. Never throws on bad input. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Something that can sign with an Ed25519 key: the device key, a session key, the org root. */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export const nobleSuite: CryptoSuite = {
  sha256(...parts) {
    if (parts.length === 1) return sha256(parts[0]!);
    const h = sha256.create();
    for (const part of parts) h.update(part);
    return h.digest();
  },
  ed25519Verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      // zip215: false = RFC 8032 strict encodings, the same acceptance rule as node:crypto (OpenSSL),
      // so that every suite gives the same verdict on a crafted signature.
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
};

/** An in-memory Ed25519 key (pure JS). Used for session keys where node:crypto is absent. */
export function nobleSigner(secretKey: Uint8Array): Ed25519Signer {
  return {
    publicKey: ed25519.getPublicKey(secretKey),
    sign: (message) => ed25519.sign(message, secretKey),
  };
}

/** The key id used in DSSE envelopes and trust roots: lowercase hex SHA-256 of the raw public key. */
export function keyIdOf(suite: CryptoSuite, publicKey: Uint8Array): string {
  return toHex(suite.sha256(publicKey));
}
