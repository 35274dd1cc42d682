/**
 * The append-only audit log: one entry per state-changing call (who, what, when, from which
 * device), hash-chained so that an edited, removed or reordered entry is found by `verifyChain`.
 *
 * An entry is appended inside the transaction of the change it records, so the two commit
 * together. Entries are numbered 1, 2, 3 … with no gaps; entry n's hash covers entry n's fields
 * and entry n-1's hash (entry 1's predecessor is 64 zeros). Appending transactions take turns
 * at the head (a lock held until each commits), so the chain never forks.
 *
 * Nothing in the service updates or deletes an entry; there is no route that could.
 */
import { createHash } from 'node:crypto';
import type { Database, Queryable } from '../db/database.ts';
import type { Migration } from '../db/migrate.ts';

export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 100,
    name: 'audit log',
    up: `CREATE TABLE audit_log (
      seq BIGINT PRIMARY KEY,
      at BIGINT NOT NULL,
      actor TEXT NOT NULL,
      device TEXT,
      action TEXT NOT NULL,
      target TEXT,
      details TEXT NOT NULL,
      prev_hash TEXT NOT NULL,
      hash TEXT NOT NULL
    )`,
  },
];

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEvent {
  /** The caller's subject (`sub` of the access token), or `system` for the service itself. */
  readonly actor: string;
  /** The device the call came from (its enrolled key id), when known. */
  readonly device?: string | undefined;
  /** What was done, dotted: `jit.request.approve`. */
  readonly action: string;
  /** The object it was done to: a request id, a session id. */
  readonly target?: string | undefined;
  /** Further facts (a reason, a decision), as JSON. Never a secret or a token. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AuditEntry {
  readonly seq: number;
  readonly at: number;
  readonly actor: string;
  readonly device: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly details: string;
  readonly prevHash: string;
  readonly hash: string;
}

interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  device: string | null;
  action: string;
  target: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/** The hash of an entry: its fields, each as JSON on its own line, then its predecessor's hash. */
export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  const lines = [entry.seq, entry.at, entry.actor, entry.device, entry.action, entry.target, entry.details].map((v) => JSON.stringify(v));
  return createHash('sha256').update(`custody-audit-v1\n${lines.join('\n')}\n${entry.prevHash}`).digest('hex');
}

/** Appends `event` at `at` (the server's clock) within `tx`. */
export async function appendAudit(tx: Queryable, event: AuditEvent, at: number): Promise<AuditEntry> {
  // Held to the end of the caller's transaction: appends take turns at the head.
  await tx.lock('audit-log-head');
  const head = await tx.get<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
  const unsigned = {
    seq: (head?.seq ?? 0) + 1,
    at,
    actor: event.actor,
    device: event.device ?? null,
    action: event.action,
    target: event.target ?? null,
    details: JSON.stringify(event.details ?? {}),
    prevHash: head?.hash ?? GENESIS_HASH,
  };
  const entry = { ...unsigned, hash: entryHash(unsigned) };
  await tx.run('INSERT INTO audit_log (seq, at, actor, device, action, target, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
    entry.seq,
    entry.at,
    entry.actor,
    entry.device,
    entry.action,
    entry.target,
    entry.details,
    entry.prevHash,
    entry.hash,
  ]);
  return entry;
}

export type ChainReport =
  | { readonly ok: true; readonly entries: number; readonly head: string }
  | { readonly ok: false; readonly entries: number; readonly brokenAt: number; readonly reason: string };

const PAGE = 1000;

/** Walks the whole chain in order and says where it first breaks. */
export async function verifyChain(db: Queryable): Promise<ChainReport> {
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  for (;;) {
    const rows = await db.all<AuditRow>('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?', [expectedSeq, PAGE]);
    for (const row of rows) {
      const entry = toEntry(row);
      const broken = (reason: string): ChainReport => ({ ok: false, entries: expectedSeq - 1, brokenAt: entry.seq, reason });
      if (entry.seq !== expectedSeq) return { ok: false, entries: expectedSeq - 1, brokenAt: expectedSeq, reason: `entry ${expectedSeq} is missing (the next is ${entry.seq})` };
      if (entry.prevHash !== prev) return broken(`entry ${entry.seq} does not follow entry ${entry.seq - 1} (its predecessor hash differs)`);
      if (entryHash(entry) !== entry.hash) return broken(`entry ${entry.seq} was changed after it was written (its hash does not match its fields)`);
      prev = entry.hash;
      expectedSeq++;
    }
    if (rows.length < PAGE) break;
  }
  const total = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log');
  if (Number(total?.n ?? 0) !== expectedSeq - 1) {
    return { ok: false, entries: expectedSeq - 1, brokenAt: expectedSeq, reason: 'entries numbered below 1 exist outside the chain' };
  }
  return { ok: true, entries: expectedSeq - 1, head: prev };
}

/** Entries in order, from `afterSeq` on (for the audit endpoint). */
export async function readAudit(db: Database, afterSeq: number, limit: number): Promise<AuditEntry[]> {
  const rows = await db.all<AuditRow>('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?', [afterSeq, limit]);
  return rows.map(toEntry);
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    seq: Number(row.seq),
    at: Number(row.at),
    actor: row.actor,
    device: row.device,
    action: row.action,
    target: row.target,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
