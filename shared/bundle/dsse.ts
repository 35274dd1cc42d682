/**
 * DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1).
 * The signature covers PAE(payloadType, payload):
 *   "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body      (LEN = ASCII decimal byte count)
 */
import { z } from 'zod';
import { concatBytes, decodeUtf8Strict, fromBase64, toBase64, utf8 } from './bytes.ts';
import type { CryptoSuite, Ed25519Signer } from './crypto.ts';
import { keyIdOf } from './crypto.ts';
import { FormatError } from './errors.ts';

export const EnvelopeSchema = z.object({
  payloadType: z.string().min(1).max(200),
  payload: z.string().max(64 * 1024 * 1024),
  signatures: z
    .array(z.object({ keyid: z.string().max(200), sig: z.string().max(1000) }))
    .min(1)
    .max(16),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8(payloadType);
  return concatBytes([utf8(`DSSEv1 ${type.length} `), type, utf8(` ${payload.length} `), payload]);
}

export function signEnvelope(suite: CryptoSuite, payloadType: string, payload: Uint8Array, signer: Ed25519Signer): Envelope {
  return {
    payloadType,
    payload: toBase64(payload),
    signatures: [{ keyid: keyIdOf(suite, signer.publicKey), sig: toBase64(signer.sign(pae(payloadType, payload))) }],
  };
}

/** Adds a further signature (the service's countersignature at ingest) over the same PAE. */
export function countersignEnvelope(suite: CryptoSuite, envelope: Envelope, signer: Ed25519Signer): Envelope {
  const payload = fromBase64(envelope.payload);
  if (payload === undefined) throw new Error('envelope payload is not valid base64');
  const sig = { keyid: keyIdOf(suite, signer.publicKey), sig: toBase64(signer.sign(pae(envelope.payloadType, payload))) };
  return { ...envelope, signatures: [...envelope.signatures, sig] };
}

export function serializeEnvelope(envelope: Envelope): Uint8Array {
  return utf8(JSON.stringify(envelope, null, 2) + '\n');
}

export interface OpenedEnvelope {
  readonly envelope: Envelope;
  readonly payload: Uint8Array;
  /** The payload parsed as JSON. */
  readonly body: unknown;
}

/** Parses an envelope file and its JSON payload; errors name the entry and field. */
export function openEnvelope(bytes: Uint8Array, entry: string, expectedType: string): OpenedEnvelope {
  const text = decodeUtf8Strict(bytes);
  if (text === undefined) throw new FormatError('invalid-utf8', `${entry} is not valid UTF-8`, { entry });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FormatError('invalid-json', `${entry} is not valid JSON`, { entry });
  }
  const parsed = EnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || '(envelope)';
    throw new FormatError('invalid-field', `${entry} field ${field}: ${issue?.message ?? 'invalid'}`, { entry, field });
  }
  const envelope = parsed.data;
  if (envelope.payloadType !== expectedType) {
    throw new FormatError('invalid-field', `${entry} has payloadType ${JSON.stringify(envelope.payloadType)}, expected ${expectedType}`, {
      entry,
      field: 'payloadType',
    });
  }
  const payload = fromBase64(envelope.payload);
  if (payload === undefined) throw new FormatError('invalid-field', `${entry} field payload is not valid base64`, { entry, field: 'payload' });
  const payloadText = decodeUtf8Strict(payload);
  if (payloadText === undefined) throw new FormatError('invalid-utf8', `${entry} payload is not valid UTF-8`, { entry, field: 'payload' });
  let body: unknown;
  try {
    body = JSON.parse(payloadText);
  } catch {
    throw new FormatError('invalid-json', `${entry} payload is not valid JSON`, { entry, field: 'payload' });
  }
  return { envelope, payload, body };
}

/** True when the envelope holds a valid signature by `publicKey` (matched by key id). */
export function verifyEnvelope(suite: CryptoSuite, opened: OpenedEnvelope, publicKey: Uint8Array): boolean {
  const keyid = keyIdOf(suite, publicKey);
  const message = pae(opened.envelope.payloadType, opened.payload);
  return opened.envelope.signatures.some((s) => {
    if (s.keyid !== keyid) return false;
    const sig = fromBase64(s.sig);
    return sig !== undefined && suite.ed25519Verify(publicKey, message, sig);
  });
}
