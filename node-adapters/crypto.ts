/**
 * node:crypto implementations of the format's crypto interfaces. SHA-256 here
 * uses the CPU's SHA extensions (several times faster than pure JS), which is
 * what lets the recorder keep up with a pty and the verifier reach its goal.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { CryptoSuite, Ed25519Signer } from '../shared/bundle/index.ts';

/** RFC 8410 PKCS#8 prefix for a raw 32-byte Ed25519 seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** RFC 8410 SubjectPublicKeyInfo prefix for a raw 32-byte Ed25519 public key. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const publicKeyCache = new Map<string, KeyObject>();

function publicKeyObject(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString('base64');
  let key = publicKeyCache.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
    if (publicKeyCache.size > 256) publicKeyCache.clear();
    publicKeyCache.set(id, key);
  }
  return key;
}

export const nodeSuite: CryptoSuite = {
  sha256(...parts) {
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part);
    return new Uint8Array(hash.digest());
  },
  ed25519Verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      return verify(null, message, publicKeyObject(publicKey), signature);
    } catch {
      return false;
    }
  },
};

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** A signer over a 32-byte Ed25519 seed (the device key's stored form). */
export function signerFromSeed(seed: Uint8Array): Ed25519Signer {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return { publicKey, sign: (message) => new Uint8Array(sign(null, message, privateKey)) };
}

/** A fresh key that exists only in this process's memory (session keys). */
export function ephemeralSigner(): Ed25519Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { publicKey: rawPublicKey(publicKey), sign: (message) => new Uint8Array(sign(null, message, privateKey)) };
}

export function newSeed(): Uint8Array {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** Checks deferred per bundle at most (see deferredVerifySuite); the rest are made at once. */
const MAX_DEFERRED_CHECKS = 16_384;

/**
 * nodeSuite whose Ed25519 checks run on libuv's thread pool while the verifier goes on hashing
 * and parsing the recording: a bundle carries a signed checkpoint every few output events, and
 * each check costs about 0.1 ms of one core. The suite answers "valid" at once and starts the
 * real check; `allValid` then says whether every answer was true. When it was, the verifier's
 * report is exactly the one the strict suite gives (nothing else in it depends on timing); when
 * not, the caller verifies again with nodeSuite for the true report. Nothing is skipped: every
 * signature is checked by the same node:crypto call, only later (past MAX_DEFERRED_CHECKS, at once).
 */
export function deferredVerifySuite(): { readonly suite: CryptoSuite; allValid(): Promise<boolean> } {
  const checks: Promise<boolean>[] = [];
  return {
    suite: {
      sha256: (...parts) => nodeSuite.sha256(...parts),
      ed25519Verify: (publicKey, message, signature) => {
        if (publicKey.length !== 32 || signature.length !== 64) return false;
        // Each pending check holds its message until the verifier returns: past this many, check at once.
        if (checks.length >= MAX_DEFERRED_CHECKS) return nodeSuite.ed25519Verify(publicKey, message, signature);
        checks.push(
          new Promise((resolve) => {
            try {
              verify(null, message, publicKeyObject(publicKey), signature, (error, valid) => resolve(error === null && valid));
            } catch {
              resolve(false);
            }
          }),
        );
        return true;
      },
    },
    allValid: async () => (await Promise.all(checks)).every(Boolean),
  };
}
