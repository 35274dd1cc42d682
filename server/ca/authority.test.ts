import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { describeDatabases } from '../db/backends.test-support.ts';
import type { Database } from '../db/database.ts';
import { CertificateAuthority, isRefusal, VALIDITY_BACKDATE_MS, type GrantRefusal, type IssuedCertificate } from './authority.ts';
import { GrantAnswers, inspectCertificate, makeUserKey, revokedBy, sshTime } from './ca.test-support.ts';
import { parseUserPublicKey } from './public-key.ts';

const HOUR = 3600_000;

describe('the SSH CA key', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-ca-key-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('is an Ed25519 OpenSSH key made once, 0600, even when two instances start at once', async () => {
    const keys = join(dir, 'keys');
    const [a, b] = await Promise.all([CertificateAuthority.load(keys), CertificateAuthority.load(keys)]);
    const c = await CertificateAuthority.load(keys);
    try {
      assert.equal(a.publicKey, b.publicKey);
      assert.equal(a.publicKey, c.publicKey);
      assert.match(a.publicKey, /^ssh-ed25519 AAAA[A-Za-z0-9+/]+ custody-ssh-ca$/);
      assert.equal((await stat(a.keyFile)).mode & 0o777, 0o600);
      assert.equal(await readFile(a.publicKeyFile, 'utf8'), `${a.publicKey}\n`);
      // OpenSSH reads both files as one key pair.
      assert.equal(execFileSync('ssh-keygen', ['-y', '-f', a.keyFile], { encoding: 'utf8' }).split(' ').slice(0, 2).join(' '), a.publicKey.split(' ').slice(0, 2).join(' '));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  test('a CA key others can read is refused', async () => {
    const keys = join(dir, 'open-keys');
    await (await CertificateAuthority.load(keys)).close();
    await chmod(join(keys, 'ssh-ca'), 0o644);
    await assert.rejects(CertificateAuthority.load(keys), /ssh-ca is readable by others \(mode 644\); make it 0600/);
  });
});

describeDatabases('the SSH CA', (open) => {
  let dir: string;
  let db: Database;
  let ca: CertificateAuthority;
  let grants: GrantAnswers;
  const now = Date.UTC(2026, 10, 25, 12, 0, 0, 500);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-ca-'));
    db = await open();
    ca = await CertificateAuthority.load(join(dir, 'keys'));
    grants = new GrantAnswers();
  });
  after(async () => {
    await ca.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function issue(grantId: string, subject = 'bob', at = now): Promise<IssuedCertificate> {
    const key = await makeUserKey(dir);
    const issued = await ca.issueForGrant(db, grants, { grantId, subject, publicKey: parseUserPublicKey(key.publicLine), now: at });
    if (isRefusal(issued)) assert.fail(issued.message);
    return issued;
  }

  test('a certificate names the grant\'s principals, ends at the grant\'s end, names grant and subject, and allows a pty only', async () => {
    const endsAt = now + 2 * HOUR + 999;
    grants.active('jr_first', 'bob', ['deploy', 'root'], endsAt);
    const key = await makeUserKey(dir);
    const audited: number[] = [];
    const issued = await ca.issueForGrant(db, grants, {
      grantId: 'jr_first',
      subject: 'bob',
      publicKey: parseUserPublicKey(key.publicLine),
      now,
      audit: async (tx, cert) => {
        assert.equal((await ca.certificate(tx, cert.serial))?.grantId, 'jr_first', 'the audit runs in the recording transaction');
        audited.push(cert.serial);
      },
    });
    if (isRefusal(issued)) assert.fail(issued.message);
    const facts = await inspectCertificate(dir, issued.certificate);
    assert.equal(facts.keyId, 'custody grant=jr_first sub=bob');
    assert.equal(facts.serial, issued.serial);
    assert.deepEqual(facts.principals, ['deploy', 'root']);
    assert.deepEqual(facts.extensions, ['permit-pty']);
    assert.equal(facts.criticalOptions, '(none)');
    assert.equal(facts.validFrom, sshTime(now - VALIDITY_BACKDATE_MS));
    assert.equal(facts.validTo, sshTime(endsAt));
    assert.match(facts.signingCa, new RegExp(`^ED25519 ${execFileSync('ssh-keygen', ['-l', '-f', ca.publicKeyFile], { encoding: 'utf8' }).split(' ')[1]!.replace(/[+/]/g, '\\$&')} `));
    assert.deepEqual(audited, [issued.serial]);
    const record = await ca.certificate(db, issued.serial);
    assert.deepEqual(record, {
      serial: issued.serial,
      grantId: 'jr_first',
      subject: 'bob',
      keyId: 'custody grant=jr_first sub=bob',
      keyType: 'ssh-ed25519',
      keyFingerprint: execFileSync('ssh-keygen', ['-l', '-f', `${key.file}.pub`], { encoding: 'utf8' }).split(' ')[1],
      principals: ['deploy', 'root'],
      validAfter: Math.floor((now - VALIDITY_BACKDATE_MS) / 1000) * 1000,
      validBefore: Math.floor(endsAt / 1000) * 1000,
      issuedAt: now,
      revokedAt: null,
      revokeReason: null,
    });
  });

  test('serials are unique and increasing, also when certificates are issued at once', async () => {
    grants.active('jr_many', 'bob', ['deploy'], now + HOUR);
    const first = await issue('jr_many');
    const many = await Promise.all(Array.from({ length: 8 }, () => issue('jr_many')));
    const serials = many.map((c) => c.serial);
    assert.equal(new Set(serials).size, serials.length);
    assert.ok(serials.every((s) => s > first.serial));
    const later = await issue('jr_many');
    assert.ok(later.serial > Math.max(...serials));
    assert.equal((await ca.certificatesOfGrant(db, 'jr_many')).length, 10);
  });

  test('a subject with spaces or quotes cannot change the key id\'s shape', async () => {
    grants.active('jr_subject', 'eve "x" sub=root\n', ['deploy'], now + HOUR);
    const issued = await issue('jr_subject', 'eve "x" sub=root\n');
    assert.equal(issued.keyId, 'custody grant=jr_subject sub=eve%20%22x%22%20sub=root%0A');
  });

  test('no certificate for a grant the lookup refuses, one that ended, or one without principals; nothing is recorded', async () => {
    grants.answers.set('jr_pending', { refused: 'not-active', message: 'grant jr_pending is PENDING, not ACTIVE' });
    grants.owners.set('jr_pending', 'bob');
    grants.active('jr_ended', 'bob', ['deploy'], now - 1);
    grants.active('jr_nobody', 'bob', [], now + HOUR);
    grants.active('jr_comma', 'bob', ['deploy,root'], now + HOUR);
    grants.active('jr_alices', 'alice', ['deploy'], now + HOUR);
    const key = parseUserPublicKey((await makeUserKey(dir)).publicLine);
    const ask = (grantId: string): Promise<unknown> => ca.issueForGrant(db, grants, { grantId, subject: 'bob', publicKey: key, now });
    assert.deepEqual(await ask('jr_pending'), { refused: 'not-active', message: 'grant jr_pending is PENDING, not ACTIVE' });
    assert.deepEqual(await ask('jr_unknown'), { refused: 'not-found', message: 'grant jr_unknown does not exist' });
    assert.deepEqual(await ask('jr_alices'), { refused: 'not-yours', message: 'grant jr_alices is not yours' });
    assert.deepEqual(await ask('jr_ended'), { refused: 'not-certifiable', message: `no certificate: grant jr_ended ended at ${new Date(now - 1).toISOString()}` });
    assert.match(((await ask('jr_nobody')) as GrantRefusal).message, /names no principal \(a certificate without principals would be valid for every login\)/);
    assert.match(((await ask('jr_comma')) as GrantRefusal).message, /principal "deploy,root" is not a login name/);
    for (const id of ['jr_pending', 'jr_unknown', 'jr_alices', 'jr_ended', 'jr_nobody', 'jr_comma']) assert.deepEqual(await ca.certificatesOfGrant(db, id), [], id);
  });

  test('a grant that changes or is revoked while its certificate is signed gets none', async () => {
    grants.answers.set('jr_moving', (call) => ({ id: 'jr_moving', principals: ['deploy'], endsAt: now + (call === 1 ? HOUR : 2 * HOUR) }));
    grants.owners.set('jr_moving', 'bob');
    const key = parseUserPublicKey((await makeUserKey(dir)).publicLine);
    assert.deepEqual(await ca.issueForGrant(db, grants, { grantId: 'jr_moving', subject: 'bob', publicKey: key, now }), {
      refused: 'changed',
      message: 'grant jr_moving changed while its certificate was being signed; ask again',
    });
    grants.answers.set('jr_racing', (call) => (call === 1 ? { id: 'jr_racing', principals: ['deploy'], endsAt: now + HOUR } : { refused: 'revoked', message: 'grant jr_racing was revoked' }));
    grants.owners.set('jr_racing', 'bob');
    assert.equal(((await ca.issueForGrant(db, grants, { grantId: 'jr_racing', subject: 'bob', publicKey: key, now })) as GrantRefusal).refused, 'revoked');
    assert.deepEqual([...(await ca.certificatesOfGrant(db, 'jr_moving')), ...(await ca.certificatesOfGrant(db, 'jr_racing'))], []);
  });

  test('revoking a grant revokes its certificates in the KRL, refuses it more, and the KRL is updated in place as revocations come', async () => {
    grants.active('jr_revoked', 'bob', ['deploy'], now + HOUR);
    grants.active('jr_kept', 'bob', ['deploy'], now + HOUR);
    const [r1, r2, kept] = [await issue('jr_revoked'), await issue('jr_revoked'), await issue('jr_kept')];
    const before = await ca.krl(db, now);
    assert.equal(await revokedBy(dir, before.bytes, r1.certificate), false);

    const serials = await db.transaction((tx) => ca.revokeGrantCertificates(tx, 'jr_revoked', now + 1000, 'revoked by carol: incident 42'));
    assert.deepEqual(serials, [r1.serial, r2.serial]);
    const krl = await ca.krl(db, now + 2000);
    assert.equal(krl.version, before.version + 2);
    assert.equal(await revokedBy(dir, krl.bytes, r1.certificate), true);
    assert.equal(await revokedBy(dir, krl.bytes, r2.certificate), true);
    assert.equal(await revokedBy(dir, krl.bytes, kept.certificate), false);
    assert.equal((await ca.certificate(db, r1.serial))?.revokeReason, 'revoked by carol: incident 42');
    assert.strictEqual(await ca.krl(db, now + 3000), krl, 'no revocation since: the same KRL');

    // The lookup still says ACTIVE (say the JIT module lags): the CA refuses on its own record.
    const key = parseUserPublicKey((await makeUserKey(dir)).publicLine);
    assert.deepEqual(await ca.issueForGrant(db, grants, { grantId: 'jr_revoked', subject: 'bob', publicKey: key, now }), {
      refused: 'revoked',
      message: 'grant jr_revoked was revoked: no more certificates are issued for it',
    });

    assert.equal(await db.transaction((tx) => ca.revokeCertificate(tx, kept.serial, now + 4000, 'key lost')), true);
    assert.equal(await db.transaction((tx) => ca.revokeCertificate(tx, kept.serial, now + 4000, 'again')), false);
    const updated = await ca.krl(db, now + 5000);
    assert.equal(updated.version, krl.version + 1);
    for (const cert of [r1, r2, kept]) assert.equal(await revokedBy(dir, updated.bytes, cert.certificate), true);
    await writeFile(join(dir, 'listed.krl'), updated.bytes);
    assert.match(execFileSync('ssh-keygen', ['-Q', '-l', '-f', join(dir, 'listed.krl')], { encoding: 'utf8' }), new RegExp(`# KRL version ${updated.version}\n`));
  });

  test('certificates of grants the lookup no longer calls active (revoked, ended) are revoked by reconciling; others are kept', async () => {
    for (const id of ['jr_rec_revoked', 'jr_rec_ended', 'jr_rec_active', 'jr_rec_gone']) grants.active(id, 'bob', ['deploy'], now + HOUR);
    const certs = await Promise.all(['jr_rec_revoked', 'jr_rec_ended', 'jr_rec_active', 'jr_rec_gone'].map((id) => issue(id)));
    grants.answers.set('jr_rec_revoked', { refused: 'revoked', message: 'grant jr_rec_revoked was revoked' });
    grants.answers.set('jr_rec_ended', { refused: 'ended', message: 'grant jr_rec_ended has ended' });
    grants.answers.set('jr_rec_gone', { refused: 'not-found', message: 'grant jr_rec_gone does not exist' });
    const audited: string[] = [];
    const record = async (_tx: unknown, grantId: string, serials: number[], reason: string): Promise<void> => {
      audited.push(`${grantId} ${serials.join(',')} ${reason}`);
    };
    const revoked = await ca.revokeCertificatesOfInactiveGrants(db, grants, now + 1000, record);
    assert.deepEqual(revoked.sort((a, b) => a - b), [certs[0]!.serial, certs[1]!.serial].sort((a, b) => a - b));
    assert.deepEqual(audited.sort(), [
      `jr_rec_ended ${certs[1]!.serial} grant no longer active: grant jr_rec_ended has ended`,
      `jr_rec_revoked ${certs[0]!.serial} grant no longer active: grant jr_rec_revoked was revoked`,
    ]);
    assert.deepEqual(await ca.revokeCertificatesOfInactiveGrants(db, grants, now + 2000, record), [], 'nothing twice');
    assert.equal(audited.length, 2);
    const krl = await ca.krl(db, now + 3000);
    assert.deepEqual(await Promise.all(certs.map((c) => revokedBy(dir, krl.bytes, c.certificate))), [true, true, false, false]);
  });

  test('another instance builds the same KRL from the records, leaving out revoked certificates that have expired anyway', async () => {
    grants.active('jr_short', 'bob', ['deploy'], now + 60_000);
    grants.active('jr_long', 'bob', ['deploy'], now + HOUR);
    const [short, long] = [await issue('jr_short'), await issue('jr_long')];
    await db.transaction(async (tx) => {
      await ca.revokeGrantCertificates(tx, 'jr_short', now, 'ended early');
      await ca.revokeGrantCertificates(tx, 'jr_long', now, 'ended early');
    });
    const other = await CertificateAuthority.load(join(dir, 'keys'));
    try {
      const fresh = await other.krl(db, now + 10 * 60_000);
      assert.equal(fresh.version, (await ca.krl(db, now)).version);
      assert.equal(await revokedBy(dir, fresh.bytes, long.certificate), true);
      assert.equal(await revokedBy(dir, fresh.bytes, short.certificate), false, 'expired: sshd refuses it without the KRL');
    } finally {
      await other.close();
    }
  });
});
