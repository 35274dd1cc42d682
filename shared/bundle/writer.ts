/**
 * Packs a finished (or recovered) recording into a `.custody` bundle: computes
 * the subject digests, signs the manifest with the device key, and zips the
 * entries in a fixed order. Pure: the caller supplies every byte and the signer.
 */
import { toHex, utf8 } from './bytes.ts';
import { CAST_ENTRY } from './asciicast.ts';
import type { CryptoSuite, Ed25519Signer } from './crypto.ts';
import { serializeEnvelope, signEnvelope } from './dsse.ts';
import {
  DEVICE_CERT_ENTRY,
  MANIFEST_ENTRY,
  MANIFEST_PAYLOAD_TYPE,
  PREDICATE_TYPE,
  SESSION_KEY_ENTRY,
  STATEMENT_TYPE,
  type SessionPredicate,
  type Statement,
} from './manifest.ts';
import { NOTES_ENTRY } from './note.ts';
import { writeZip } from './zip.ts';

export interface BundleContents {
  readonly cast: Uint8Array;
  readonly notes: Uint8Array;
  readonly sessionKeyCert: Uint8Array;
  /** Absent until the device is enrolled with an org root. */
  readonly deviceCert?: Uint8Array;
  readonly predicate: SessionPredicate;
}

export function buildStatement(suite: CryptoSuite, contents: BundleContents): Statement {
  const files: [string, Uint8Array][] = [
    [CAST_ENTRY, contents.cast],
    [NOTES_ENTRY, contents.notes],
    [SESSION_KEY_ENTRY, contents.sessionKeyCert],
  ];
  if (contents.deviceCert !== undefined) files.push([DEVICE_CERT_ENTRY, contents.deviceCert]);
  return {
    _type: STATEMENT_TYPE,
    subject: files.map(([name, data]) => ({ name, digest: { sha256: toHex(suite.sha256(data)) } })),
    predicateType: PREDICATE_TYPE,
    predicate: contents.predicate,
  };
}

export function packBundle(suite: CryptoSuite, contents: BundleContents, deviceKey: Ed25519Signer): Uint8Array {
  const statement = buildStatement(suite, contents);
  const manifest = serializeEnvelope(signEnvelope(suite, MANIFEST_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), deviceKey));
  const entries = [
    { name: MANIFEST_ENTRY, data: manifest },
    { name: CAST_ENTRY, data: contents.cast },
    { name: NOTES_ENTRY, data: contents.notes },
    { name: SESSION_KEY_ENTRY, data: contents.sessionKeyCert },
  ];
  if (contents.deviceCert !== undefined) entries.push({ name: DEVICE_CERT_ENTRY, data: contents.deviceCert });
  return writeZip(entries);
}
