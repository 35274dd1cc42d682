/**
 * Crash recovery. A spool whose owner process is gone was left by a crash
 * (or a power cut): pack what it holds into a bundle marked `recovered`. The
 * bundle has a sealed prefix (what the last checkpoint covers) and possibly an
 * unsealed tail; a torn last line is dropped and reported in the manifest.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCheckpoint, parseNote, splitNotes, type Ed25519Signer } from '../shared/bundle/index.ts';
import { packSpool, scanCast } from './pack.ts';
import { SPOOL_FILES, SpoolMetaSchema } from './spool.ts';

export interface RecoveredBundle {
  readonly sessionId: string;
  readonly bundlePath: string;
  readonly sha256: string;
  readonly sealedSize: number;
  readonly lines: number;
  readonly tornBytes: number;
}

function ownerAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The last checkpoint that parses, and whether it is the seal. Torn or damaged trailing notes are ignored. */
function lastCheckpoint(notesText: string): { size: number; sealed: boolean } {
  // A crash can tear the last note; keep only whole notes.
  const whole = notesText.endsWith('\n') ? notesText : notesText.slice(0, notesText.lastIndexOf('\n') + 1);
  let result = { size: 0, sealed: false };
  let notes: { note: string; line: number }[] = [];
  try {
    notes = splitNotes(whole);
  } catch {
    return result;
  }
  for (const { note, line } of notes) {
    try {
      const where = { entry: SPOOL_FILES.notes, line, label: 'checkpoint' };
      const body = parseCheckpoint(parseNote(note, where).text, where);
      result = { size: body.size, sealed: body.kind === 'seal' };
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
  const checkpoint = lastCheckpoint(await readFile(join(spoolDir, SPOOL_FILES.notes), 'utf8'));
  const sealedCleanly = checkpoint.sealed && checkpoint.size === scan.lines && scan.tornBytes === 0;
  let exitStatus: number | null = null;
  try {
    const last = JSON.parse(scan.lastLine) as unknown;
    if (Array.isArray(last) && last[1] === 'x') exitStatus = Number(last[2]);
  } catch {
    // not an exit event
  }
  const sha256 = await packSpool({
    spoolDir,
    meta,
    deviceKey,
    scan,
    sealed: checkpoint.sealed,
    endedAt: sealedCleanly ? Date.now() : null,
    exitStatus,
    // A spool that was sealed but not yet packed is a finished session, not a recovered one.
    recovered: sealedCleanly ? null : { recoveredAt: Date.now(), sealedSize: checkpoint.size, tornBytes: scan.tornBytes, reason },
    redactionCounts: {},
  });
  return { sessionId: meta.sessionId, bundlePath: meta.bundlePath, sha256, sealedSize: checkpoint.size, lines: scan.lines, tornBytes: scan.tornBytes };
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
    let owner: number;
    try {
      owner = Number.parseInt(await readFile(join(dir, SPOOL_FILES.owner), 'utf8'), 10);
    } catch {
      owner = NaN; // created but never owned: the recorder died while setting it up
    }
    if (Number.isInteger(owner) && owner > 0 && ownerAlive(owner)) continue;
    orphans.push(dir);
  }
  return orphans;
}
