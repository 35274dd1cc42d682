/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures, and
 * the C2SP tlog-checkpoint body (https://c2sp.org/tlog-checkpoint) they carry.
 *
 *   note      = text "\n" signature-line+
 *   text      = one or more lines, each ending in "\n"; the signed message is exactly these bytes
 *   signature = "— " key-name " " base64(key-hash[4] ‖ ed25519-signature[64]) "\n"
 *   key-hash  = SHA-256(key-name ‖ "\n" ‖ 0x01 ‖ public-key[32])[0:4]     (0x01: Ed25519)
 */
import { concatBytes, equalBytes, fromBase64, toBase64, utf8 } from './bytes.ts';
import type { CryptoSuite, Ed25519Signer } from './crypto.ts';
import { FormatError } from './errors.ts';

export const NOTES_ENTRY = 'recording/checkpoints.notes';
const SIGNATURE_PREFIX = '\u2014 ';
const ED25519_ALGORITHM = 0x01;

export interface NoteSignature {
  readonly keyName: string;
  readonly keyHash: Uint8Array;
  readonly signature: Uint8Array;
}

export interface Note {
  /** The signed text, every line ending in "\n". */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

const KEY_NAME = /^[^\s+\u2014]+$/u;

export function noteKeyHash(suite: CryptoSuite, keyName: string, publicKey: Uint8Array): Uint8Array {
  return suite.sha256(utf8(keyName), new Uint8Array([0x0a, ED25519_ALGORITHM]), publicKey).subarray(0, 4);
}

export function signNote(suite: CryptoSuite, text: string, keyName: string, signer: Ed25519Signer): string {
  if (!KEY_NAME.test(keyName)) throw new Error(`note key name ${JSON.stringify(keyName)} may not contain spaces, "+" or "\u2014"`);
  if (!text.endsWith('\n') || text.includes('\n\n')) throw new Error('note text must end in a newline and hold no blank line');
  const signature = signer.sign(utf8(text));
  const blob = concatBytes([noteKeyHash(suite, keyName, signer.publicKey), signature]);
  return `${text}\n${SIGNATURE_PREFIX}${keyName} ${toBase64(blob)}\n`;
}

/** Parses one note. `where` names it in errors (e.g. `recording/checkpoints.notes checkpoint 4`). */
export function parseNote(note: string, where: { entry: string; line: number; label: string }): Note {
  const fail = (why: string): FormatError =>
    new FormatError('note-malformed', `${where.entry} ${where.label} (line ${where.line}) ${why}`, {
      entry: where.entry,
      line: where.line,
    });
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw fail('has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const sigBlock = note.slice(split + 2);
  if (text.length === 0) throw fail('has an empty text');
  if (!sigBlock.endsWith('\n')) throw fail('does not end in a newline');
  const signatures: NoteSignature[] = [];
  for (const line of sigBlock.slice(0, -1).split('\n')) {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw fail(`has a signature line that does not start with "\u2014 ": ${JSON.stringify(line.slice(0, 40))}`);
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space <= 0) throw fail('has a signature line without a key name');
    const keyName = rest.slice(0, space);
    const blob = fromBase64(rest.slice(space + 1));
    if (!KEY_NAME.test(keyName)) throw fail(`has an invalid key name ${JSON.stringify(keyName)}`);
    if (blob === undefined || blob.length < 5) throw fail(`has a signature by ${keyName} that is not valid base64`);
    signatures.push({ keyName, keyHash: blob.subarray(0, 4), signature: blob.subarray(4) });
  }
  return { text, signatures };
}

/** True when `note` carries a valid signature by (keyName, publicKey). */
export function verifyNoteSignature(suite: CryptoSuite, note: Note, keyName: string, publicKey: Uint8Array): boolean {
  const hash = noteKeyHash(suite, keyName, publicKey);
  const message = utf8(note.text);
  return note.signatures.some(
    (s) => s.keyName === keyName && equalBytes(s.keyHash, hash) && suite.ed25519Verify(publicKey, message, s.signature),
  );
}

/**
 * Splits checkpoints.notes into notes. The file is the notes in order, each
 * followed by one "\n" (so a blank line separates them). Yields the note and
 * the 1-based line where it starts.
 */
export function splitNotes(file: string): { note: string; line: number }[] {
  const notes: { note: string; line: number }[] = [];
  const lines = file.split('\n');
  if (lines[lines.length - 1] !== '') {
    throw new FormatError('note-malformed', `${NOTES_ENTRY} does not end in a newline (torn write?)`, {
      entry: NOTES_ENTRY,
      line: lines.length,
    });
  }
  let i = 0;
  while (i < lines.length - 1) {
    const start = i;
    while (i < lines.length - 1 && lines[i] !== '') i++; // text
    i++; // the blank line between text and signatures
    while (i < lines.length - 1 && lines[i] !== '') i++; // signatures
    const note = lines.slice(start, i).join('\n') + '\n';
    notes.push({ note, line: start + 1 });
    i++; // the separating blank line
  }
  return notes;
}

// ---------------------------------------------------------------------------
// Checkpoint bodies (C2SP tlog-checkpoint with Custody extension lines).

/**
 * Why a checkpoint was taken. `open` covers the header, `seal` is the last
 * one after the exit event; the rest follow the recorder's schedule.
 */
export type CheckpointKind = 'open' | 'input' | 'interval' | 'size' | 'resize' | 'marker' | 'seal';
const KINDS: ReadonlySet<string> = new Set(['open', 'input', 'interval', 'size', 'resize', 'marker', 'seal']);

export interface CheckpointBody {
  /** `custody.dev/session/<session id>` */
  readonly origin: string;
  /** Number of lines of session.cast (header included) the root covers. */
  readonly size: number;
  readonly root: Uint8Array;
  readonly kind: CheckpointKind;
  /** Wall-clock time the checkpoint was signed, Unix milliseconds. */
  readonly time: number;
  /**
   * SHA-256 of the previous note's signed text (without its signature lines, so cosignatures can
   * be added); for the first note, SHA-256 of the bytes of keys/session-key.dsse.json.
   */
  readonly prev: Uint8Array;
}

export function originForSession(sessionId: string): string {
  return `custody.dev/session/${sessionId}`;
}

export function formatCheckpoint(body: CheckpointBody): string {
  return (
    `${body.origin}\n${body.size}\n${toBase64(body.root)}\n` +
    `kind ${body.kind}\ntime ${body.time}\nprev ${toBase64(body.prev)}\n`
  );
}

export function parseCheckpoint(text: string, where: { entry: string; line: number; label: string }): CheckpointBody {
  const fail = (why: string): FormatError =>
    new FormatError('note-malformed', `${where.entry} ${where.label} (line ${where.line}) ${why}`, {
      entry: where.entry,
      line: where.line,
    });
  const lines = text.slice(0, -1).split('\n');
  if (lines.length !== 6) throw fail(`has ${lines.length} body lines; a checkpoint has origin, size, root, kind, time and prev`);
  const [origin, sizeText, rootText, kindLine, timeLine, prevLine] = lines as [string, string, string, string, string, string];
  if (!/^(0|[1-9][0-9]{0,14})$/.test(sizeText)) throw fail(`has an invalid tree size ${JSON.stringify(sizeText.slice(0, 20))}`);
  const root = fromBase64(rootText);
  if (root?.length !== 32) throw fail('has a root hash that is not 32 bytes of base64');
  const kind = kindLine.startsWith('kind ') ? kindLine.slice(5) : '';
  if (!KINDS.has(kind)) throw fail(`has an unknown kind line ${JSON.stringify(kindLine.slice(0, 30))}`);
  const timeText = timeLine.startsWith('time ') ? timeLine.slice(5) : '';
  if (!/^(0|[1-9][0-9]{0,14})$/.test(timeText)) throw fail('has an invalid time line');
  const prev = prevLine.startsWith('prev ') ? fromBase64(prevLine.slice(5)) : undefined;
  if (prev?.length !== 32) throw fail('has an invalid prev line');
  return { origin, size: Number(sizeText), root, kind: kind as CheckpointKind, time: Number(timeText), prev };
}
