/**
 * The CA against a real OpenSSH sshd on loopback that trusts it (TrustedUserCAKeys) and reads
 * its KRL (RevokedKeys): what logs in and what does not is decided by sshd, not by us.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sshdUnavailable, startSshd, type RunningSshd } from '../../test/support/sshd.ts';
import { migrate } from '../db/migrate.ts';
import { MIGRATIONS } from '../db/migrations.ts';
import { SqliteDatabase } from '../db/sqlite.ts';
import { CertificateAuthority, isRefusal, keyIdFor, type IssuedCertificate } from './authority.ts';
import { GrantAnswers, makeUserKey, sshLogin, type UserKey } from './ca.test-support.ts';
import { parseUserPublicKey } from './public-key.ts';

const HOUR = 3600_000;
const skip = sshdUnavailable();

describe('certificates from the CA at a real sshd', { skip }, () => {
  let dir: string;
  let db: SqliteDatabase;
  let ca: CertificateAuthority;
  let sshd: RunningSshd;
  let krlFile: string;
  const grants = new GrantAnswers();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-ca-sshd-'));
    db = new SqliteDatabase(join(dir, 'service.db'));
    await migrate(db, MIGRATIONS);
    ca = await CertificateAuthority.load(join(dir, 'keys'));
    krlFile = join(dir, 'revoked.krl');
    await publishKrl();
    sshd = await startSshd({ certificates: { trustedUserCaKeys: ca.publicKeyFile, revokedKeys: krlFile } });
  });
  after(async () => {
    await sshd?.stop();
    await ca?.close();
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What IT's provisioning does: fetch the KRL and put it where sshd reads it. */
  async function publishKrl(): Promise<void> {
    await writeFile(krlFile, (await ca.krl(db, Date.now())).bytes);
  }

  async function certificateFor(grantId: string, principals: string[]): Promise<{ key: UserKey; issued: IssuedCertificate }> {
    grants.active(grantId, 'bob', principals, Date.now() + HOUR);
    const key = await makeUserKey(dir);
    const issued = await ca.issueForGrant(db, grants, { grantId, subject: 'bob', publicKey: parseUserPublicKey(key.publicLine), now: Date.now() });
    if (isRefusal(issued)) assert.fail(issued.message);
    return { key, issued };
  }

  const login = (key: UserKey, certificate: string): ReturnType<typeof sshLogin> => sshLogin(sshd, key, certificate);

  test('a certificate from an active grant, naming the login, logs in', async () => {
    const { key, issued } = await certificateFor('jr_login', ['somebody', sshd.user]);
    const outcome = await login(key, issued.certificate);
    assert.ok(outcome.ok, `ssh: ${outcome.ssh}\nsshd: ${outcome.sshd}`);
    assert.match(outcome.sshd, new RegExp(`Accepted publickey for ${sshd.user} .*ID custody grant=jr_login sub=bob \\(serial ${issued.serial}\\)`));
  });

  test('an expired certificate does not log in', async () => {
    const key = await makeUserKey(dir);
    const now = Date.now();
    const certificate = await ca.sign({
      publicKey: parseUserPublicKey(key.publicLine),
      serial: await ca.allocateSerial(db),
      keyId: keyIdFor('jr_expired', 'bob'),
      principals: [sshd.user],
      validAfter: now - 2 * HOUR,
      validBefore: now - HOUR,
    });
    const outcome = await login(key, certificate);
    assert.equal(outcome.ok, false);
    assert.match(outcome.sshd, /[Cc]ertificate invalid: expired/);
  });

  test('a certificate that does not name the login does not log in', async () => {
    const { key, issued } = await certificateFor('jr_elsewhere', ['deploy', 'root']);
    const outcome = await login(key, issued.certificate);
    assert.equal(outcome.ok, false);
    assert.match(outcome.sshd, /[Cc]ertificate invalid: name is not a listed principal/);
  });

  test('a certificate logs in until its grant is revoked and the KRL published, then does not', async () => {
    const { key, issued } = await certificateFor('jr_revoke', [sshd.user]);
    assert.ok((await login(key, issued.certificate)).ok);
    await db.transaction((tx) => ca.revokeGrantCertificates(tx, 'jr_revoke', Date.now(), 'revoked by carol'));
    await publishKrl();
    const outcome = await login(key, issued.certificate);
    assert.equal(outcome.ok, false);
    assert.match(outcome.sshd, /revoked by file/);
    // Another grant's certificate still logs in past the same KRL.
    const other = await certificateFor('jr_other', [sshd.user]);
    assert.ok((await login(other.key, other.issued.certificate)).ok);
  });
});
