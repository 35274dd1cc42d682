/**
 * End to end: a grant made through the JIT API, a certificate from the SSH CA's API, and a real
 * OpenSSH sshd on loopback set up the way IT would set up a host: TrustedUserCAKeys from
 * GET /v1/ca/public-key, RevokedKeys from GET /v1/ca/krl.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IssuedCertificateSchema } from '../shared/api/ca.ts';
import { grantThroughJit, makeUserKey, sshLogin, type UserKey } from '../server/ca/ca.test-support.ts';
import { startHarness, type Caller, type Harness } from '../server/service.test-support.ts';
import { sshdUnavailable, startSshd, type RunningSshd } from './support/sshd.ts';

describe('a JIT grant logs in to a real sshd with its certificate, until it is revoked', { skip: sshdUnavailable() }, () => {
  let harness: Harness;
  let sshd: RunningSshd;
  let alice: Caller, carol: Caller, erin: Caller;
  let krlFile: string;

  /** What a host's provisioning does on a timer: fetch the KRL into RevokedKeys. */
  async function fetchKrl(): Promise<void> {
    const response = await harness.anonymous().get('/v1/ca/krl');
    assert.equal(response.status, 200);
    await writeFile(krlFile, new Uint8Array(await response.arrayBuffer()));
  }

  async function certificate(grantId: string): Promise<{ key: UserKey; certificate: string; serial: number }> {
    const key = await makeUserKey(harness.dir);
    const response = await alice.post(`/v1/grants/${grantId}/certificate`, { publicKey: key.publicLine });
    assert.equal(response.status, 200, await response.clone().text());
    const issued = IssuedCertificateSchema.parse(await response.json());
    return { key, certificate: issued.certificate, serial: issued.serial };
  }

  before(async () => {
    harness = await startHarness();
    [alice, carol, erin] = await Promise.all([harness.as('alice'), harness.as('carol'), harness.as('erin')]);
    const caFile = join(harness.dir, 'trusted-user-ca.pub');
    await writeFile(caFile, await (await harness.anonymous().get('/v1/ca/public-key')).text());
    krlFile = join(harness.dir, 'revoked.krl');
    await fetchKrl();
    sshd = await startSshd({ certificates: { trustedUserCaKeys: caFile, revokedKeys: krlFile } });
  });
  after(async () => {
    await sshd?.stop();
    await harness?.stop();
  });

  const aliceGrant = (principal: string): Promise<string> => grantThroughJit({ serviceAdmin: erin, requester: alice, approver: carol }, { port: sshd.port, principal });

  test('a certificate for an approved, started grant on the login logs in', async () => {
    const grantId = await aliceGrant(sshd.user);
    const { key, certificate: cert, serial } = await certificate(grantId);
    const outcome = await sshLogin(sshd, key, cert);
    assert.ok(outcome.ok, `ssh: ${outcome.ssh}\nsshd: ${outcome.sshd}`);
    assert.match(outcome.sshd, new RegExp(`Accepted publickey for ${sshd.user} .*ID custody grant=${grantId} sub=alice \\(serial ${serial}\\)`));
  });

  test('a certificate for another principal does not log in', async () => {
    const grantId = await aliceGrant('deploy');
    const { key, certificate: cert } = await certificate(grantId);
    const outcome = await sshLogin(sshd, key, cert);
    assert.equal(outcome.ok, false);
    assert.match(outcome.sshd, /[Cc]ertificate invalid: name is not a listed principal/);
  });

  test('once an approver revokes the grant and the host fetches the KRL, its certificate no longer logs in, and no new one is issued', async () => {
    const grantId = await aliceGrant(sshd.user);
    const { key, certificate: cert } = await certificate(grantId);
    assert.ok((await sshLogin(sshd, key, cert)).ok);
    assert.equal((await carol.post(`/v1/jit/requests/${grantId}/revoke`, { reason: 'incident 42' })).status, 200);
    await fetchKrl();
    const outcome = await sshLogin(sshd, key, cert);
    assert.equal(outcome.ok, false);
    assert.match(outcome.sshd, /revoked by file/);
    const again = await alice.post(`/v1/grants/${grantId}/certificate`, { publicKey: key.publicLine });
    assert.equal(again.status, 409);
    assert.match(((await again.json()) as { message: string }).message, /revoked/);
  });
});
