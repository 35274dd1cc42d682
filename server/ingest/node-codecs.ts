/**
 * The format's crypto suite and zip codec on node:crypto and node:zlib, for the service's
 * verifier: native SHA-256, Ed25519 and inflate are several times faster than the pure-JS
 * defaults, and ingest verifies every byte of every bundle.
 *
 * The recorder has the same two adapters (recorder/node-crypto.ts, recorder/node-zip.ts); the
 * layering keeps server/ from importing recorder/, so the service has its own until both move to
 * a Node-only folder they may share.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { crc32, inflateRawSync } from 'node:zlib';
import type { CryptoSuite } from '../../shared/bundle/crypto.ts';
import type { ZipCodec } from '../../shared/bundle/zip.ts';

/** RFC 8410: the SubjectPublicKeyInfo DER of a raw Ed25519 key is this prefix and the 32 bytes. */
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map<string, KeyObject>();

function keyObject(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString('hex');
  let key = keys.get(id);
  if (key === undefined) {
    if (keys.size >= 1024) keys.clear();
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: 'der', type: 'spki' });
    keys.set(id, key);
  }
  return key;
}

export const serviceSuite: CryptoSuite = {
  sha256: (...parts) => parts.reduce((hash, part) => hash.update(part), createHash('sha256')).digest(),
  ed25519Verify: (publicKey, message, signature) => {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      return verify(null, message, keyObject(publicKey), signature);
    } catch {
      return false;
    }
  },
};

export const serviceZipCodec: ZipCodec = {
  inflateRaw: (compressed, limit) => {
    try {
      return inflateRawSync(compressed, { maxOutputLength: limit });
    } catch (error) {
      // node:zlib's refusal to grow past maxOutputLength: the entry is longer than it declares.
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return 'too-large';
      throw error;
    }
  },
  crc32: (data) => crc32(data),
};

/** Checks deferred per bundle at most (see deferredVerifySuite); the rest are made at once. */
const MAX_DEFERRED_CHECKS = 16_384;

/**
 * serviceSuite whose Ed25519 checks run on libuv's thread pool while the verifier goes on hashing
 * and parsing the recording: a bundle carries a signed checkpoint every few output events, and
 * each check costs about 0.1 ms of one core. The suite answers "valid" at once and starts the
 * real check; `allValid` then says whether every answer was true. When it was, the verifier's
 * report is exactly the one the strict suite gives (nothing else in it depends on timing); when
 * not, the caller verifies again with serviceSuite for the true report. Nothing is skipped: every
 * signature is checked by the same node:crypto call, only later (past MAX_DEFERRED_CHECKS, at once).
 */
export function deferredVerifySuite(): { readonly suite: CryptoSuite; allValid(): Promise<boolean> } {
  const checks: Promise<boolean>[] = [];
  return {
    suite: {
      sha256: (...parts) => serviceSuite.sha256(...parts),
      ed25519Verify: (publicKey, message, signature) => {
        if (publicKey.length !== 32 || signature.length !== 64) return false;
        // Each pending check holds its message until the verifier returns: past this many, check at once.
        if (checks.length >= MAX_DEFERRED_CHECKS) return serviceSuite.ed25519Verify(publicKey, message, signature);
        checks.push(
          new Promise((resolve) => {
            try {
              verify(null, message, keyObject(publicKey), signature, (error, valid) => resolve(error === null && valid));
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
