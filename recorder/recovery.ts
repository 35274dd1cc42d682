/**
 * Crash recovery. A spool whose owner process is gone was left by a crash
 * (or a power cut): pack what it holds into a bundle marked `recovered`. The
 * bundle has a sealed prefix (what the last checkpoint covers) and possibly an
 * unsealed tail; a torn last line is dropped and reported in the manifest.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCheckpoint, parseNote, splitNotes, type Ed25519Signer } from '../shared/bundle/index.ts';
import { countByCategory } from '../shared/redaction/policy.ts';
import { BUILTIN_RULES } from '../shared/redaction/rules/index.ts';
import { packSpool, scanCast } from './pack.ts';
import { ownerAlive, SPOOL_FILES, SpoolMetaSchema } from './spool.ts';

const BUILTIN_CATEGORIES = new Map(BUILTIN_RULES.map((rule) => [rule.id, rule.category]));

export interface RecoveredBundle {
  readonly sessionId: string;
  readonly bundlePath: string;
  readonly sha256: string;
  /** False for a spool that was sealed but not yet packed: that session ended cleanly. */
  readonly recovered: boolean;
  readonly sealedSize: number;
  readonly lines: number;
  readonly tornBytes: number;
}

/**
 * The checkpoints that survived: notes are kept up to the first one that is
 * torn or damaged (a crash can tear the last write). Returns the last kept
 * checkpoint and the byte length of the kept notes, which is all that goes
 * into the bundle.
 */
function wholeCheckpoints(notes: Uint8Array): { size: number; sealed: boolean; bytes: number } {
  const text = new TextDecoder().decode(notes);
  const end = text.lastIndexOf('\n\n');
  let result = { size: 0, sealed: false, bytes: 0 };
  let split: { note: string; line: number }[];
  try {
    split = end < 0 ? [] : splitNotes(text.slice(0, end + 2));
  } catch {
    return result;
  }
  let bytes = 0;
  for (const { note, line } of split) {
    try {
      const where = { entry: SPOOL_FILES.notes, line, label: 'checkpoint' };
      const body = parseCheckpoint(parseNote(note, where).text, where);
      bytes += Buffer.byteLength(note, 'utf8') + 1; // the note and its separating newline
      result = { size: body.size, sealed: body.kind === 'seal', bytes };
    } catch {
      break;
    }
  }
  return result;
}

/** Packs one orphaned spool. The spool is removed by the caller once the bundle is safe. */
export async function recoverSpool(spoolDir: string, deviceKey: Ed25519Signer, reason: string): Promise<RecoveredBundle> {
  const meta = SpoolMetaSchema.parse(JSON.parse(await readFile(join(spoolDir, SPOOL_FILES.meta), 'utf8')));
  const scan = await scanCast(join(spoolDir, SPOOL_FILES.cast));
  const notes = await readFile(join(spoolDir, SPOOL_FILES.notes));
  const checkpoint = wholeCheckpoints(notes);
  const sealedCleanly = checkpoint.sealed && checkpoint.size === scan.lines && scan.tornBytes === 0;
  let exitStatus: number | null = null;
  try {
    const last = JSON.parse(scan.lastLine) as unknown;
    if (Array.isArray(last) && last[1] === 'x') exitStatus = Number(last[2]);
  } catch {
    // not an exit event
  }
  const recovered = sealedCleanly ? null : { recoveredAt: Date.now(), sealedSize: checkpoint.size, tornBytes: scan.tornBytes, reason };
  const sha256 = await packSpool({
    spoolDir,
    meta,
    notes: notes.subarray(0, checkpoint.bytes),
    deviceKey,
    scan,
    sealed: checkpoint.sealed,
    endedAt: sealedCleanly ? Date.now() : null,
    exitStatus,
    // A spool that was sealed but not yet packed is a finished session, not a recovered one.
    recovered,
    // The redactor's counts died with the process; the markers in the recording say the same.
    redactionCounts: countByCategory(scan.markers, (id) => BUILTIN_CATEGORIES.get(id)),
  });
  return {
    sessionId: meta.sessionId,
    bundlePath: meta.bundlePath,
    sha256,
    recovered: recovered !== null,
    sealedSize: checkpoint.size,
    lines: scan.lines,
    tornBytes: scan.tornBytes,
  };
}

/** Spool folders whose owner process is gone. */
export async function findOrphanedSpools(spoolRoot: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(spoolRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const orphans: string[] = [];
  for (const name of names.sort()) {
    const dir = join(spoolRoot, name);
    let owner = '';
    try {
      owner = await readFile(join(dir, SPOOL_FILES.owner), 'utf8');
    } catch {
      // created but never owned: the recorder died while setting it up
    }
    if (ownerAlive(owner)) continue;
    orphans.push(dir);
  }
  return orphans;
}
