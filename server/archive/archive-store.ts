/**
 * The archive's index: one row per stored recording (who, which target and grant, when, where it
 * is stored, its receipt, retention and legal hold), the full text of its redacted output for
 * search, and the quarantine list of bundles that failed verification.
 *
 * The stored objects themselves are in the BlobStore (write-once). Nothing here changes a stored
 * recording: a row changes only by its legal hold, and by `expired_at` when the sweeper deleted
 * the object after its retention (the row stays, so the index still says it existed).
 *
 * Full text: FTS5 in SQLite, a tsvector with a GIN index in PostgreSQL ('simple' configuration:
 * commands and host names are not English words to stem).
 */
import type { Queryable } from '../db/database.ts';
import type { Migration } from '../db/migrate.ts';
import type { Receipt } from '../../shared/api/ingest.ts';
import type { StoredSession } from '../../shared/api/archive.ts';

/** The same in both dialects; full text and the quarantine's key column differ. */
const SESSIONS_TABLE = `CREATE TABLE archived_sessions (
        session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, target TEXT, grant_id TEXT,
        started_at BIGINT NOT NULL, ended_at BIGINT, stored_at BIGINT NOT NULL, verdict TEXT NOT NULL,
        storage_key TEXT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, uploaded_sha256 TEXT NOT NULL,
        receipt TEXT NOT NULL, envelope TEXT NOT NULL, retain_until BIGINT NOT NULL, legal_hold INTEGER NOT NULL DEFAULT 0, expired_at BIGINT);
      CREATE INDEX archived_sessions_owner ON archived_sessions (owner, started_at);
      CREATE INDEX archived_sessions_target ON archived_sessions (target, started_at);
      CREATE INDEX archived_sessions_grant ON archived_sessions (grant_id);
      CREATE INDEX archived_sessions_started ON archived_sessions (started_at);
      CREATE INDEX archived_sessions_retention ON archived_sessions (retain_until);`;

export const ARCHIVE_MIGRATIONS: readonly Migration[] = [
  {
    version: 510,
    name: 'archive: stored sessions and quarantine',
    up: {
      sqlite: `${SESSIONS_TABLE}
      CREATE VIRTUAL TABLE session_text USING fts5(session_id UNINDEXED, body, tokenize = 'unicode61');
      CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, uploader TEXT NOT NULL, sha256 TEXT NOT NULL,
        size BIGINT NOT NULL, storage_key TEXT NOT NULL UNIQUE, reason TEXT NOT NULL, report TEXT NOT NULL, at BIGINT NOT NULL)`,
      postgres: `${SESSIONS_TABLE}
      CREATE TABLE session_text (session_id TEXT PRIMARY KEY, body TEXT NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED);
      CREATE INDEX session_text_tsv ON session_text USING GIN (tsv);
      CREATE TABLE quarantine (
        id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL, uploader TEXT NOT NULL, sha256 TEXT NOT NULL,
        size BIGINT NOT NULL, storage_key TEXT NOT NULL UNIQUE, reason TEXT NOT NULL, report TEXT NOT NULL, at BIGINT NOT NULL)`,
    },
  },
  {
    version: 511,
    name: 'archive: session text in chunks',
    up: {
      // FTS5 rows already repeat per session: nothing to change.
      sqlite: 'CREATE INDEX IF NOT EXISTS archived_sessions_stored ON archived_sessions (stored_at)',
      // A tsvector holds at most 1 MiB: a long session's text is indexed in chunks, one row each.
      postgres: `CREATE INDEX IF NOT EXISTS archived_sessions_stored ON archived_sessions (stored_at);
      ALTER TABLE session_text DROP CONSTRAINT session_text_pkey;
      ALTER TABLE session_text ADD COLUMN chunk INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE session_text ADD PRIMARY KEY (session_id, chunk)`,
    },
  },
  {
    version: 512,
    name: 'archive: session text as a contentless word index',
    up: {
      // Search asks only which sessions hold each word (queryWords, one MATCH per word): the FTS5
      // index need not keep a second copy of the text (contentless) nor word positions
      // (detail=none). It writes about half as much per recording, and ingest indexes every byte
      // of output. The session id stays readable (contentless_unindexed), rows stay deletable for
      // the sweeper (contentless_delete).
      // (The old table is renamed away first: SQLite 3.51 corrupts a contentless_unindexed table it renames.)
      sqlite: `ALTER TABLE session_text RENAME TO session_text_full;
      CREATE VIRTUAL TABLE session_text USING fts5(session_id UNINDEXED, body, tokenize = 'unicode61',
        content = '', contentless_delete = 1, contentless_unindexed = 1, detail = 'none');
      INSERT INTO session_text (session_id, body) SELECT session_id, body FROM session_text_full;
      DROP TABLE session_text_full`,
      // A tsvector is already an index of its own; nothing to change.
      postgres: 'SELECT 1',
    },
  },
];

/**
 * Characters of output text per index row. PostgreSQL refuses a tsvector over 1 MiB; a chunk this
 * size stays well under it even when every word is distinct.
 */
export const TEXT_CHUNK = 128 * 1024;

/** Where the chunk of `text` that starts at `start` ends: after the last whitespace within `size` characters, if more text follows. */
export function chunkEnd(text: string, start: number, size: number): number {
  const end = Math.min(text.length, start + size);
  if (end === text.length) return end;
  const cut = Math.max(text.lastIndexOf('\n', end - 1), text.lastIndexOf(' ', end - 1));
  return cut > start ? cut + 1 : end;
}

/** `text` cut into chunks of at most `size` characters, at whitespace where there is some, so words stay whole. */
export function textChunks(text: string, size = TEXT_CHUNK): string[] {
  const chunks: string[] = [];
  for (let start = 0; start < text.length; ) {
    const end = chunkEnd(text, start, size);
    chunks.push(text.slice(start, end));
    start = end;
  }
  return chunks;
}

export interface NewStoredSession {
  readonly sessionId: string;
  readonly owner: string;
  readonly target: string | null;
  readonly grantId: string | null;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly receipt: Receipt;
  /** The signed receipt, as JSON text. */
  readonly envelope: string;
  readonly retainUntil: number;
  /** The output text to index (redacted, escape sequences removed), or its textChunks. */
  readonly text: string | readonly string[];
}

interface SessionRow {
  session_id: string;
  owner: string;
  target: string | null;
  grant_id: string | null;
  started_at: number | string;
  ended_at: number | string | null;
  stored_at: number | string;
  verdict: string;
  storage_key: string;
  size: number | string;
  sha256: string;
  uploaded_sha256: string;
  receipt: string;
  envelope: string;
  retain_until: number | string;
  legal_hold: number;
  expired_at: number | string | null;
}

export interface ArchivedSession extends StoredSession {
  readonly storageKey: string;
  readonly receipt: Receipt;
  readonly envelope: string;
}

function toSession(row: SessionRow): ArchivedSession {
  const num = (v: number | string): number => Number(v);
  return {
    sessionId: row.session_id,
    owner: row.owner,
    target: row.target,
    grantId: row.grant_id,
    startedAt: num(row.started_at),
    endedAt: row.ended_at === null ? null : num(row.ended_at),
    storedAt: num(row.stored_at),
    verdict: row.verdict === 'recovered' ? 'recovered' : 'intact',
    size: num(row.size),
    sha256: row.sha256,
    retainUntil: num(row.retain_until),
    legalHold: Number(row.legal_hold) === 1,
    expiredAt: row.expired_at === null ? null : num(row.expired_at),
    storageKey: row.storage_key,
    receipt: JSON.parse(row.receipt) as Receipt,
    envelope: row.envelope,
  };
}

/** Public view of a row (no storage internals). */
export function summaryOf(session: ArchivedSession): StoredSession {
  const { storageKey: _k, receipt: _r, envelope: _e, ...summary } = session;
  return summary;
}

export async function insertStoredSession(tx: Queryable, s: NewStoredSession): Promise<void> {
  const r = s.receipt;
  await tx.run(
    `INSERT INTO archived_sessions (session_id, owner, target, grant_id, started_at, ended_at, stored_at, verdict, storage_key, size, sha256, uploaded_sha256, receipt, envelope, retain_until, legal_hold)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
    [s.sessionId, s.owner, s.target, s.grantId, s.startedAt, s.endedAt, r.storedAt, r.verdict, r.storageKey, r.size, r.sha256, r.uploadedSha256, JSON.stringify(r), s.envelope, s.retainUntil],
  );
  const chunks = typeof s.text === 'string' ? textChunks(s.text) : s.text;
  for (const [i, body] of chunks.entries()) {
    await tx.run(tx.dialect === 'sqlite' ? 'INSERT INTO session_text (session_id, body) VALUES (?, ?)' : 'INSERT INTO session_text (session_id, chunk, body) VALUES (?, ?, ?)', tx.dialect === 'sqlite' ? [s.sessionId, body] : [s.sessionId, i, body]);
  }
}

export async function findStoredSession(db: Queryable, sessionId: string): Promise<ArchivedSession | undefined> {
  const row = await db.get<SessionRow>('SELECT * FROM archived_sessions WHERE session_id = ?', [sessionId]);
  return row === undefined ? undefined : toSession(row);
}

export interface SessionSearch {
  readonly owner?: string | undefined;
  readonly target?: string | undefined;
  readonly grantId?: string | undefined;
  readonly from?: number | undefined;
  readonly to?: number | undefined;
  readonly text?: string | undefined;
  readonly limit: number;
}

/** The words of a text query, as both full-text engines split them (letters and digits). */
export function queryWords(text: string): string[] {
  return text.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0).slice(0, 32);
}

/** Sessions matching every given criterion, newest first. */
export async function searchSessions(db: Queryable, q: SessionSearch): Promise<ArchivedSession[]> {
  const filters: [string, string | number | undefined][] = [
    ['s.owner = ?', q.owner],
    ['s.target = ?', q.target],
    ['s.grant_id = ?', q.grantId],
    ['s.started_at >= ?', q.from],
    ['s.started_at < ?', q.to],
  ];
  const where: string[] = [];
  const params: (string | number)[] = [];
  for (const [clause, value] of filters) {
    if (value === undefined) continue;
    where.push(clause);
    params.push(value);
  }
  if (q.text !== undefined) {
    const words = queryWords(q.text);
    if (words.length === 0) return [];
    // One condition per word: the words of a session may sit in different chunks of its text.
    for (const word of words) {
      if (db.dialect === 'sqlite') {
        // Quoted: FTS5 reads the word as a plain token, never as query syntax.
        where.push('s.session_id IN (SELECT session_id FROM session_text WHERE session_text MATCH ?)');
        params.push(`"${word}"`);
      } else {
        where.push("s.session_id IN (SELECT session_id FROM session_text WHERE tsv @@ plainto_tsquery('simple', ?))");
        params.push(word);
      }
    }
  }
  const sql = `SELECT s.* FROM archived_sessions s ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY s.started_at DESC, s.session_id LIMIT ?`;
  const rows = await db.all<SessionRow>(sql, [...params, q.limit]);
  return rows.map(toSession);
}

export async function setLegalHold(tx: Queryable, sessionId: string, on: boolean): Promise<void> {
  await tx.run('UPDATE archived_sessions SET legal_hold = ? WHERE session_id = ?', [on ? 1 : 0, sessionId]);
}

/** Stored objects whose retention has lapsed, that are not held and not yet deleted. */
export async function expiredSessions(db: Queryable, now: number, limit: number): Promise<ArchivedSession[]> {
  const rows = await db.all<SessionRow>('SELECT * FROM archived_sessions WHERE retain_until <= ? AND legal_hold = 0 AND expired_at IS NULL ORDER BY retain_until LIMIT ?', [now, limit]);
  return rows.map(toSession);
}

/** The sweeper deleted the object: the row stays, its text leaves the index. */
export async function markExpired(tx: Queryable, sessionId: string, at: number): Promise<void> {
  await tx.run('UPDATE archived_sessions SET expired_at = ? WHERE session_id = ? AND expired_at IS NULL', [at, sessionId]);
  await tx.run('DELETE FROM session_text WHERE session_id = ?', [sessionId]);
}

export interface QuarantineEntry {
  readonly id: number;
  readonly sessionId: string;
  readonly uploader: string;
  readonly sha256: string;
  readonly size: number;
  readonly storageKey: string;
  readonly reason: string;
  readonly at: number;
}

/** Records a quarantined bundle; the same object twice is one entry. True when it is new. */
export async function insertQuarantine(tx: Queryable, entry: Omit<QuarantineEntry, 'id'> & { report: string }): Promise<boolean> {
  const result = await tx.run(
    'INSERT INTO quarantine (session_id, uploader, sha256, size, storage_key, reason, report, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (storage_key) DO NOTHING',
    [entry.sessionId, entry.uploader, entry.sha256, entry.size, entry.storageKey, entry.reason, entry.report, entry.at],
  );
  return result.changes > 0;
}

export async function listQuarantine(db: Queryable, limit: number): Promise<QuarantineEntry[]> {
  const rows = await db.all<{ id: number | string; session_id: string; uploader: string; sha256: string; size: number | string; storage_key: string; reason: string; at: number | string }>(
    'SELECT id, session_id, uploader, sha256, size, storage_key, reason, at FROM quarantine ORDER BY id DESC LIMIT ?',
    [limit],
  );
  return rows.map((r) => ({ id: Number(r.id), sessionId: r.session_id, uploader: r.uploader, sha256: r.sha256, size: Number(r.size), storageKey: r.storage_key, reason: r.reason, at: Number(r.at) }));
}
