/**
 * The SSH certificate authority: OpenSSH's own `ssh-keygen` does the cryptography, this module
 * decides what it signs and keeps the books.
 *
 * - The CA key is an OpenSSH Ed25519 key in `<dataDir>/keys/ssh-ca` (0600), made once: it is
 *   generated beside its final name and hard-linked into place, which fails for the second of
 *   two instances starting at once; that one reads the winner's key. `ssh-ca.pub` is what IT
 *   puts in sshd's `TrustedUserCAKeys`.
 * - A user certificate is valid from a little before now (clock skew between us and the host)
 *   to exactly the grant's end, for exactly the grant's principals, with a serial from the
 *   database (unique, increasing), a key id naming the grant and the subject, and restrictive
 *   extensions: a pty and nothing else unless asked for.
 * - Every certificate issued is recorded; revoking marks it and gives it the next KRL version
 *   number. The KRL (`ssh-keygen -k`, sshd's `RevokedKeys`) is built from those records by each
 *   instance when the version in the database moves past the one it holds: in full at first
 *   (only certificates still within their validity: an expired one needs no revoking), then
 *   updated in place with `ssh-keygen -k -u`.
 *
 * Issuing reads the grant twice: once to refuse early, and again inside the transaction that
 * records the certificate, under the grant's lock (which revoking takes too), so a certificate is
 * recorded only for a grant that was still ACTIVE, unchanged and unrevoked when it committed.
 * The signing itself (a child process) runs outside any transaction; a certificate whose record
 * does not commit is never handed out, and only leaves a gap in the serials.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { link, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database, Queryable } from '../db/database.ts';
import type { Migration } from '../db/migrate.ts';
import type { UserPublicKey } from './public-key.ts';

export const SSH_CA_MIGRATIONS: readonly Migration[] = [
  {
    version: 300,
    name: 'ssh ca certificates',
    up: {
      // SQLite's transactions take turns, so a one-row counter is enough; PostgreSQL's sequence
      // hands out serials without holding a row lock while a certificate is being recorded.
      sqlite: `CREATE TABLE ssh_ca_serial (id INTEGER PRIMARY KEY CHECK (id = 1), last BIGINT NOT NULL);
        INSERT INTO ssh_ca_serial (id, last) VALUES (1, 0);`,
      postgres: 'CREATE SEQUENCE ssh_ca_serial START 1;',
    },
  },
  {
    version: 301,
    name: 'ssh ca certificate records and revocations',
    up: `CREATE TABLE ssh_certificates (
        serial BIGINT PRIMARY KEY,
        grant_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        key_id TEXT NOT NULL,
        key_type TEXT NOT NULL,
        key_fingerprint TEXT NOT NULL,
        principals TEXT NOT NULL,
        valid_after BIGINT NOT NULL,
        valid_before BIGINT NOT NULL,
        issued_at BIGINT NOT NULL,
        revoked_at BIGINT,
        revoked_seq BIGINT UNIQUE,
        revoke_reason TEXT
      );
      CREATE INDEX ssh_certificates_grant ON ssh_certificates (grant_id);
      CREATE TABLE ssh_ca_revoked_grants (
        grant_id TEXT PRIMARY KEY,
        revoked_at BIGINT NOT NULL,
        reason TEXT NOT NULL
      );`,
  },
];

/** How far before now a certificate starts: the host's clock may be a little behind ours. */
export const VALIDITY_BACKDATE_MS = 90_000;
const CA_KEY_FILE = 'ssh-ca';
const CA_COMMENT = 'custody-ssh-ca';
const KEYGEN_TIMEOUT_MS = 30_000;

/** What the JIT module answers for a grant the caller wants a certificate on. */
export interface GrantForCertificate {
  readonly id: string;
  /** The login names on the target; the certificate names exactly these. */
  readonly principals: readonly string[];
  /** When the grant ends (ms since the epoch): the certificate ends then too. */
  readonly endsAt: number;
  readonly target?: unknown;
}

/** Why no certificate: `kind` maps to the HTTP status, `message` says it to the person. */
export interface GrantRefusal {
  readonly refused: 'not-found' | 'not-yours' | 'not-active' | 'expired' | 'ended' | 'revoked' | 'changed' | 'not-certifiable';
  readonly message: string;
}

/** The grant lookup the CA is given (the JIT module's): ACTIVE and the caller's, or why not. */
export interface GrantLookup {
  activeGrant(q: Queryable, grantId: string, subject: string, now: number): Promise<GrantForCertificate | GrantRefusal>;
}

export function isRefusal<T extends object>(answer: T | GrantRefusal): answer is GrantRefusal {
  return 'refused' in answer;
}

/** Extensions beyond a pty; each off unless policy turns it on. */
export interface CertificatePermissions {
  readonly agentForwarding?: boolean;
  readonly portForwarding?: boolean;
  readonly x11Forwarding?: boolean;
  readonly userRc?: boolean;
}

export interface CertificateSpec {
  readonly publicKey: UserPublicKey;
  readonly serial: number;
  readonly keyId: string;
  readonly principals: readonly string[];
  /** ms since the epoch, whole seconds (what a certificate can hold). */
  readonly validAfter: number;
  readonly validBefore: number;
  readonly permissions?: CertificatePermissions;
}

export interface IssuedCertificate {
  readonly certificate: string;
  readonly serial: number;
  readonly keyId: string;
  readonly grantId: string;
  readonly subject: string;
  readonly principals: readonly string[];
  readonly keyType: string;
  readonly keyFingerprint: string;
  readonly validAfter: number;
  readonly validBefore: number;
  readonly issuedAt: number;
}

export interface CertificateRecord extends Omit<IssuedCertificate, 'certificate'> {
  readonly revokedAt: number | null;
  readonly revokeReason: string | null;
}

export interface Krl {
  /** The highest revocation number it covers (0: nothing revoked yet). */
  readonly version: number;
  readonly bytes: Uint8Array;
}

export class CertificateAuthorityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateAuthorityError';
  }
}

/** A subject as it may stand in a key id: printable, no spaces (KRL `id:` lines end at the line). */
function keyIdSubject(subject: string): string {
  return [...new TextEncoder().encode(subject)]
    .map((byte) => (/[A-Za-z0-9@._+:=-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

export function keyIdFor(grantId: string, subject: string): string {
  return `custody grant=${grantId} sub=${keyIdSubject(subject)}`;
}

/** A principal as `-n` takes it: a comma would split it, an empty list would mean "anyone". */
function checkPrincipals(principals: readonly string[]): void {
  if (principals.length === 0) throw new CertificateAuthorityError('the grant names no principal (a certificate without principals would be valid for every login)');
  for (const p of principals) {
    if (!/^[^\s,\p{Cc}]{1,256}$/u.test(p)) throw new CertificateAuthorityError(`the grant's principal ${JSON.stringify(p.slice(0, 80))} is not a login name a certificate can carry`);
  }
}

const seconds = (ms: number): number => Math.floor(ms / 1000);
const hexTime = (ms: number): string => `0x${seconds(ms).toString(16)}`;

function keygen(binary: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: KEYGEN_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) return resolve(stdout);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return reject(new CertificateAuthorityError(`the SSH CA needs OpenSSH's ssh-keygen, and ${binary} is not installed (openssh-client)`));
      reject(new CertificateAuthorityError(`${binary} ${args[0] ?? ''} failed: ${stderr.trim() || error.message}`));
    });
  });
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

export interface AuthorityOptions {
  /** Where ssh-keygen is; by default found on PATH. */
  readonly sshKeygen?: string;
}

export class CertificateAuthority {
  /** `ssh-ed25519 AAAA… custody-ssh-ca`: the line for sshd's TrustedUserCAKeys. */
  readonly publicKey: string;
  readonly keyFile: string;
  readonly publicKeyFile: string;
  readonly #keygen: string;
  readonly #work: string;
  #krl: Krl | undefined;
  #krlTurn: Promise<unknown> = Promise.resolve();

  private constructor(keyFile: string, publicKey: string, work: string, keygenBinary: string) {
    this.keyFile = keyFile;
    this.publicKeyFile = `${keyFile}.pub`;
    this.publicKey = publicKey;
    this.#work = work;
    this.#keygen = keygenBinary;
  }

  /** Loads the CA key from `keysDir`, making it first if there is none. */
  static async load(keysDir: string, options: AuthorityOptions = {}): Promise<CertificateAuthority> {
    const binary = options.sshKeygen ?? 'ssh-keygen';
    await mkdir(keysDir, { recursive: true, mode: 0o700 });
    const keyFile = join(keysDir, CA_KEY_FILE);
    if (!(await isFile(keyFile))) {
      const staging = await mkdtemp(join(keysDir, `.${CA_KEY_FILE}-`));
      try {
        await keygen(binary, ['-q', '-t', 'ed25519', '-N', '', '-C', CA_COMMENT, '-f', join(staging, CA_KEY_FILE)]);
        // link() never replaces: of two instances starting at once, one key wins, and both use it.
        await link(join(staging, CA_KEY_FILE), keyFile).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    }
    const info = await stat(keyFile);
    if ((info.mode & 0o077) !== 0) throw new CertificateAuthorityError(`${keyFile} is readable by others (mode ${(info.mode & 0o777).toString(8)}); make it 0600`);
    const [type, data] = (await keygen(binary, ['-y', '-f', keyFile])).trim().split(/\s+/);
    if (type === undefined || data === undefined) throw new CertificateAuthorityError(`${keyFile} is not an OpenSSH private key`);
    const publicKey = `${type} ${data} ${CA_COMMENT}`;
    // Written whole under another name and renamed: a reader never sees half a line.
    const staged = `${keyFile}.pub.${randomUUID()}`;
    await writeFile(staged, `${publicKey}\n`, { mode: 0o644 });
    await rename(staged, `${keyFile}.pub`);
    const work = await mkdtemp(join(tmpdir(), 'custody-ssh-ca-'));
    return new CertificateAuthority(keyFile, publicKey, work, binary);
  }

  /** The next serial: unique and increasing, from the database, committed at once. */
  async allocateSerial(db: Queryable): Promise<number> {
    const row =
      db.dialect === 'postgres'
        ? await db.get<{ serial: number }>("SELECT nextval('ssh_ca_serial') AS serial")
        : await db.get<{ serial: number }>('UPDATE ssh_ca_serial SET last = last + 1 WHERE id = 1 RETURNING last AS serial');
    if (row === undefined) throw new CertificateAuthorityError('the serial counter is missing (migration 300)');
    return Number(row.serial);
  }

  /** What a certificate for `grant` looks like, issued to `subject` at `now`. */
  specFor(grant: GrantForCertificate, subject: string, publicKey: UserPublicKey, now: number, serial: number, permissions?: CertificatePermissions): CertificateSpec {
    checkPrincipals(grant.principals);
    const validBefore = seconds(grant.endsAt) * 1000;
    if (validBefore <= now) throw new CertificateAuthorityError(`grant ${grant.id} ended at ${new Date(grant.endsAt).toISOString()}`);
    return {
      publicKey,
      serial,
      keyId: keyIdFor(grant.id, subject),
      principals: [...grant.principals],
      validAfter: seconds(now - VALIDITY_BACKDATE_MS) * 1000,
      validBefore,
      ...(permissions === undefined ? {} : { permissions }),
    };
  }

  /** Signs `spec` with `ssh-keygen -s` and returns the certificate line. Records nothing. */
  async sign(spec: CertificateSpec): Promise<string> {
    checkPrincipals(spec.principals);
    if (!Number.isSafeInteger(spec.serial) || spec.serial <= 0) throw new CertificateAuthorityError(`serial ${spec.serial} is not a positive integer`);
    if (spec.validBefore <= spec.validAfter) throw new CertificateAuthorityError('a certificate must end after it starts');
    const options = ['-O', 'clear', '-O', 'permit-pty'];
    const allowed = spec.permissions ?? {};
    if (allowed.agentForwarding === true) options.push('-O', 'permit-agent-forwarding');
    if (allowed.portForwarding === true) options.push('-O', 'permit-port-forwarding');
    if (allowed.x11Forwarding === true) options.push('-O', 'permit-X11-forwarding');
    if (allowed.userRc === true) options.push('-O', 'permit-user-rc');
    const dir = join(this.#work, randomUUID());
    await mkdir(dir, { mode: 0o700 });
    try {
      const keyFile = join(dir, 'key.pub');
      await writeFile(keyFile, `${spec.publicKey.line}\n`);
      await keygen(this.#keygen, [
        '-q',
        '-s',
        this.keyFile,
        '-I',
        spec.keyId,
        '-n',
        spec.principals.join(','),
        // Raw seconds since the epoch: no time zone between us and ssh-keygen.
        '-V',
        `${hexTime(spec.validAfter)}:${hexTime(spec.validBefore)}`,
        '-z',
        String(spec.serial),
        ...options,
        keyFile,
      ]);
      return (await readFile(join(dir, 'key-cert.pub'), 'utf8')).trim();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Keeps the books on a certificate (within the transaction that hands it out). */
  async record(tx: Queryable, issued: IssuedCertificate): Promise<void> {
    await tx.run(
      `INSERT INTO ssh_certificates (serial, grant_id, subject, key_id, key_type, key_fingerprint, principals, valid_after, valid_before, issued_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [issued.serial, issued.grantId, issued.subject, issued.keyId, issued.keyType, issued.keyFingerprint, JSON.stringify(issued.principals), issued.validAfter, issued.validBefore, issued.issuedAt],
    );
  }

  /**
   * A certificate for `grantId`, to `subject`, for `publicKey`: the grant must be ACTIVE, the
   * caller's, unrevoked, and the same when the record commits as when it was signed. `audit`
   * runs inside the recording transaction. A refusal records nothing.
   */
  async issueForGrant(
    db: Database,
    grants: GrantLookup,
    order: { grantId: string; subject: string; publicKey: UserPublicKey; now: number; permissions?: CertificatePermissions; audit?: (tx: Queryable, issued: IssuedCertificate) => Promise<unknown> },
  ): Promise<IssuedCertificate | GrantRefusal> {
    const { grantId, subject, publicKey, now } = order;
    const grant = await grants.activeGrant(db, grantId, subject, now);
    if (isRefusal(grant)) return grant;
    if (await this.isGrantRevoked(db, grantId)) return revokedRefusal(grantId);
    let spec: CertificateSpec;
    try {
      spec = this.specFor(grant, subject, publicKey, now, await this.allocateSerial(db), order.permissions);
    } catch (error) {
      if (error instanceof CertificateAuthorityError) return { refused: 'not-certifiable', message: `no certificate: ${error.message}` };
      throw error;
    }
    const certificate = await this.sign(spec);
    const issued: IssuedCertificate = {
      certificate,
      serial: spec.serial,
      keyId: spec.keyId,
      grantId,
      subject,
      principals: spec.principals,
      keyType: publicKey.type,
      keyFingerprint: publicKey.fingerprint,
      validAfter: spec.validAfter,
      validBefore: spec.validBefore,
      issuedAt: now,
    };
    return db.transaction(async (tx) => {
      await tx.lock(grantLock(grantId));
      const still = await grants.activeGrant(tx, grantId, subject, now);
      if (isRefusal(still)) return still;
      if (await this.isGrantRevoked(tx, grantId)) return revokedRefusal(grantId);
      if (still.endsAt !== grant.endsAt || still.principals.join('\n') !== grant.principals.join('\n')) {
        return { refused: 'changed', message: `grant ${grantId} changed while its certificate was being signed; ask again` } satisfies GrantRefusal;
      }
      await this.record(tx, issued);
      await order.audit?.(tx, issued);
      return issued;
    });
  }

  async isGrantRevoked(q: Queryable, grantId: string): Promise<boolean> {
    return (await q.get('SELECT grant_id FROM ssh_ca_revoked_grants WHERE grant_id = ?', [grantId])) !== undefined;
  }

  /**
   * Revokes every certificate of `grantId` and refuses it any more (call it within the
   * transaction that revokes or ends the grant). Returns the serials newly revoked.
   */
  async revokeGrantCertificates(tx: Queryable, grantId: string, at: number, reason: string): Promise<number[]> {
    await tx.lock(grantLock(grantId));
    await tx.run('INSERT INTO ssh_ca_revoked_grants (grant_id, revoked_at, reason) VALUES (?, ?, ?) ON CONFLICT (grant_id) DO NOTHING', [grantId, at, reason]);
    const rows = await tx.all<{ serial: number }>('SELECT serial FROM ssh_certificates WHERE grant_id = ? AND revoked_at IS NULL ORDER BY serial', [grantId]);
    return this.#markRevoked(tx, rows.map((r) => Number(r.serial)), at, reason);
  }

  /** Revokes one certificate (a lost key); false if there is none of that serial or it already is. */
  async revokeCertificate(tx: Queryable, serial: number, at: number, reason: string): Promise<boolean> {
    const row = await tx.get<{ serial: number }>('SELECT serial FROM ssh_certificates WHERE serial = ? AND revoked_at IS NULL', [serial]);
    if (row === undefined) return false;
    return (await this.#markRevoked(tx, [serial], at, reason)).length === 1;
  }

  async #markRevoked(tx: Queryable, serials: readonly number[], at: number, reason: string): Promise<number[]> {
    if (serials.length === 0) return [];
    // Revocation numbers are the KRL's versions: handed out in commit order.
    await tx.lock('ssh-ca-krl');
    const head = await tx.get<{ seq: number | null }>('SELECT MAX(revoked_seq) AS seq FROM ssh_certificates');
    let seq = Number(head?.seq ?? 0);
    const revoked: number[] = [];
    for (const serial of serials) {
      const { changes } = await tx.run('UPDATE ssh_certificates SET revoked_at = ?, revoked_seq = ?, revoke_reason = ? WHERE serial = ? AND revoked_at IS NULL', [at, ++seq, reason, serial]);
      if (changes === 1) revoked.push(serial);
    }
    return revoked;
  }

  /**
   * Revokes the live certificates of every grant the lookup no longer calls ACTIVE (revoked or
   * ended early): run before the KRL is served, so a host that fetches it learns of every grant
   * revoked by then, whether or not the revoking code told the CA. `audit` runs in each
   * revoking transaction. Returns the serials newly revoked.
   */
  async revokeCertificatesOfInactiveGrants(db: Database, grants: GrantLookup, now: number, audit?: (tx: Queryable, grantId: string, serials: number[], reason: string) => Promise<unknown>): Promise<number[]> {
    const live = await db.all<{ grant_id: string; subject: string }>('SELECT DISTINCT grant_id, subject FROM ssh_certificates WHERE revoked_at IS NULL AND valid_before > ? ORDER BY grant_id', [now]);
    const revoked: number[] = [];
    for (const { grant_id: grantId, subject } of live) {
      const answer = await grants.activeGrant(db, grantId, subject, now);
      if (!isRefusal(answer) || !REVOKING_REFUSALS.has(answer.refused)) continue;
      const reason = `grant no longer active: ${answer.message}`;
      revoked.push(
        ...(await db.transaction(async (tx) => {
          const serials = await this.revokeGrantCertificates(tx, grantId, now, reason);
          if (serials.length > 0) await audit?.(tx, grantId, serials, reason);
          return serials;
        })),
      );
    }
    return revoked;
  }

  async certificatesOfGrant(q: Queryable, grantId: string): Promise<CertificateRecord[]> {
    const rows = await q.all<CertificateRow>('SELECT * FROM ssh_certificates WHERE grant_id = ? ORDER BY serial', [grantId]);
    return rows.map(fromRow);
  }

  async certificate(q: Queryable, serial: number): Promise<CertificateRecord | undefined> {
    const row = await q.get<CertificateRow>('SELECT * FROM ssh_certificates WHERE serial = ?', [serial]);
    return row === undefined ? undefined : fromRow(row);
  }

  /** The KRL as of the database now; built or updated only when a revocation happened since. */
  krl(db: Queryable, now: number): Promise<Krl> {
    const turn = this.#krlTurn.then(() => this.#currentKrl(db, now));
    this.#krlTurn = turn.catch(() => undefined);
    return turn;
  }

  async #currentKrl(db: Queryable, now: number): Promise<Krl> {
    const head = await db.get<{ version: number | null }>('SELECT MAX(revoked_seq) AS version FROM ssh_certificates');
    const version = Number(head?.version ?? 0);
    const held = this.#krl;
    if (held !== undefined && held.version === version) return held;
    const update = held !== undefined && held.version < version;
    const rows = update
      ? await db.all<{ serial: number }>('SELECT serial FROM ssh_certificates WHERE revoked_seq > ? AND revoked_seq <= ? ORDER BY serial', [held.version, version])
      : await db.all<{ serial: number }>('SELECT serial FROM ssh_certificates WHERE revoked_seq IS NOT NULL AND revoked_seq <= ? AND valid_before > ? ORDER BY serial', [version, now]);
    const dir = join(this.#work, randomUUID());
    await mkdir(dir, { mode: 0o700 });
    try {
      const spec = join(dir, 'revoked.txt');
      const file = join(dir, 'revoked.krl');
      await writeFile(spec, rows.map((r) => `serial: ${r.serial}\n`).join(''));
      if (update) await writeFile(file, held.bytes);
      await keygen(this.#keygen, ['-q', '-k', ...(update ? ['-u'] : []), '-f', file, '-s', this.publicKeyFile, '-z', String(version), spec]);
      const krl = { version, bytes: new Uint8Array(await readFile(file)) };
      this.#krl = krl;
      return krl;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await rm(this.#work, { recursive: true, force: true });
  }
}

/** Answers that mean the grant is over before its end: its certificates must stop working now. */
const REVOKING_REFUSALS: ReadonlySet<GrantRefusal['refused']> = new Set(['revoked', 'ended', 'not-active']);

function grantLock(grantId: string): string {
  return `ssh-ca-grant:${grantId}`;
}

function revokedRefusal(grantId: string): GrantRefusal {
  return { refused: 'revoked', message: `grant ${grantId} was revoked: no more certificates are issued for it` };
}

interface CertificateRow {
  serial: number;
  grant_id: string;
  subject: string;
  key_id: string;
  key_type: string;
  key_fingerprint: string;
  principals: string;
  valid_after: number;
  valid_before: number;
  issued_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
}

function fromRow(row: CertificateRow): CertificateRecord {
  return {
    serial: Number(row.serial),
    grantId: row.grant_id,
    subject: row.subject,
    keyId: row.key_id,
    keyType: row.key_type,
    keyFingerprint: row.key_fingerprint,
    principals: JSON.parse(row.principals) as string[],
    validAfter: Number(row.valid_after),
    validBefore: Number(row.valid_before),
    issuedAt: Number(row.issued_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    revokeReason: row.revoke_reason,
  };
}
