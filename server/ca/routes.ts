/**
 * The SSH CA over HTTP: its public key and its KRL for the hosts (public: sshd's
 * TrustedUserCAKeys and RevokedKeys are fetched by IT's provisioning, which has no token), and
 * a certificate for an admin's own ACTIVE grant.
 *
 * The grant lookup is given (`sshCaModule({ grants })`): the JIT module owns grants, the CA only
 * asks whether one is ACTIVE and the caller's, and, before serving the KRL, whether the grants
 * it holds live certificates for still are.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { CertificateRequestSchema, GrantCertificateParamsSchema, IssuedCertificateSchema } from '../../shared/api/ca.ts';
import { appendAudit } from '../audit/audit-log.ts';
import { HttpError } from '../http/errors.ts';
import type { ServiceModule } from '../http/context.ts';
import { CertificateAuthority, type GrantLookup, type GrantRefusal } from './authority.ts';
import { parseUserPublicKey, PublicKeyError } from './public-key.ts';

const REFUSAL_STATUS: Record<GrantRefusal['refused'], HttpError['code']> = {
  'not-found': 'not-found',
  'not-yours': 'forbidden',
  'not-active': 'conflict',
  expired: 'conflict',
  ended: 'conflict',
  revoked: 'conflict',
  changed: 'conflict',
  'not-certifiable': 'conflict',
};

/**
 * `run` once at a time however many call (the KRL is public: a crowd of hosts must not start a
 * crowd of lookups). A caller arriving while a run is under way waits for the next one, which
 * starts after it, so what it gets reflects every change committed before it asked.
 */
function singleFlight(run: () => Promise<unknown>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const start = (): Promise<void> => {
    const current = run().then(() => undefined);
    running = current;
    // Its callers see how it ended; here it only frees the slot.
    void current.then(settled, settled).then(() => {
      if (running === current) running = undefined;
    });
    return current;
  };
  return () => {
    if (next !== undefined) return next;
    if (running === undefined) return start();
    next = running.then(settled, settled).then(() => {
      next = undefined;
      return start();
    });
    return next;
  };
}

const settled = (): void => undefined;

export interface SshCaModuleOptions {
  readonly grants: GrantLookup;
  /** Where ssh-keygen is; by default found on PATH. */
  readonly sshKeygen?: string;
  /** Called once the CA is loaded (the service's wiring hands it to the JIT module's revoke). */
  readonly onReady?: (authority: CertificateAuthority) => void;
}

export function sshCaModule(options: SshCaModuleOptions): ServiceModule & { authority(): CertificateAuthority } {
  let loaded: CertificateAuthority | undefined;
  const authority = (): CertificateAuthority => {
    if (loaded === undefined) throw new Error('the SSH CA is used before the service registered it');
    return loaded;
  };
  return {
    name: 'ssh-ca',
    authority,
    async register(app, { config, db, now, principalOf, audit }) {
      loaded = await CertificateAuthority.load(join(config.dataDir, 'keys'), options.sshKeygen === undefined ? {} : { sshKeygen: options.sshKeygen });
      options.onReady?.(loaded);
      const ca = loaded;
      // Grants revoked or ended since the last fetch: their certificates join the list first.
      const reconcile = singleFlight(() =>
        ca.revokeCertificatesOfInactiveGrants(db, options.grants, now(), (tx, grantId, serials, reason) =>
          appendAudit(tx, { actor: 'system', action: 'ssh-ca.certificate.revoke', target: grantId, details: { serials, reason } }, now()),
        ),
      );

      app.get(
        '/v1/ca/public-key',
        {
          config: { access: 'public' },
          schema: { summary: "The CA's OpenSSH public key line, for sshd's TrustedUserCAKeys", response: { 200: z.string() } },
        },
        async (_request, reply) => reply.type('text/plain; charset=utf-8').send(`${ca.publicKey}\n`),
      );

      app.get(
        '/v1/ca/krl',
        {
          config: { access: 'public' },
          schema: { summary: "The OpenSSH key revocation list (binary), for sshd's RevokedKeys; x-custody-krl-version says how current it is" },
        },
        async (_request, reply) => {
          await reconcile();
          const krl = await ca.krl(db, now());
          return reply.type('application/octet-stream').header('cache-control', 'no-cache').header('x-custody-krl-version', String(krl.version)).send(Buffer.from(krl.bytes));
        },
      );

      app.post(
        '/v1/grants/:grantId/certificate',
        {
          config: { access: ['admin'] },
          schema: {
            summary: 'A short-lived OpenSSH user certificate for your public key, on your ACTIVE grant: its principals, until its end',
            params: GrantCertificateParamsSchema,
            body: CertificateRequestSchema,
            response: { 200: IssuedCertificateSchema },
          },
        },
        async (request) => {
          const who = principalOf(request);
          const { grantId } = request.params;
          let publicKey;
          try {
            publicKey = parseUserPublicKey(request.body.publicKey);
          } catch (error) {
            if (error instanceof PublicKeyError) throw new HttpError('bad-request', `body.publicKey: ${error.message}`);
            throw error;
          }
          const issued = await ca.issueForGrant(db, options.grants, {
            grantId,
            subject: who.subject,
            publicKey,
            now: now(),
            audit: (tx, cert) =>
              audit(tx, request, 'ssh-ca.certificate.issue', grantId, {
                serial: cert.serial,
                keyId: cert.keyId,
                principals: cert.principals,
                keyFingerprint: cert.keyFingerprint,
                validAfter: cert.validAfter,
                validBefore: cert.validBefore,
              }),
          });
          if ('refused' in issued) throw new HttpError(REFUSAL_STATUS[issued.refused], issued.message);
          return {
            certificate: issued.certificate,
            serial: issued.serial,
            keyId: issued.keyId,
            grantId: issued.grantId,
            principals: [...issued.principals],
            keyFingerprint: issued.keyFingerprint,
            validAfter: issued.validAfter,
            validBefore: issued.validBefore,
            issuedAt: issued.issuedAt,
          };
        },
      );
    },
    async close() {
      await loaded?.close();
    },
  };
}
