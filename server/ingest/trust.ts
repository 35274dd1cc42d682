/**
 * The trust root ingest verifies against: the service's org root (device certificates it
 * issued) and its service key, plus every device key enrollment knows. Enrollment owns the
 * device list; ingest only asks for the trust root through this one function, so the module can
 * be handed enrollment's (`TrustSource`) when both are wired together.
 */
import { toBase64 } from '../../shared/bundle/bytes.ts';
import type { TrustRoot } from '../../shared/bundle/manifest.ts';
import type { Queryable } from '../db/database.ts';
import type { ServiceKeys } from '../keys/service-keys.ts';

export type TrustSource = (db: Queryable) => Promise<TrustRoot>;

/** The service's own keys: org root and service key, no device keys. */
export function serviceTrustRoot(keys: ServiceKeys, name = 'Custody service'): TrustRoot {
  return {
    version: 1,
    name,
    keys: [
      { keyId: keys.orgRoot.keyId, publicKey: toBase64(keys.orgRoot.publicKey), role: 'org-root', name: 'org root' },
      { keyId: keys.service.keyId, publicKey: toBase64(keys.service.publicKey), role: 'service', name: 'service key' },
    ],
  };
}

/** Until enrollment is wired in: the service's own keys (devices certified by its org root verify as trusted). */
export function ownKeysTrustSource(keys: ServiceKeys): TrustSource {
  const root = serviceTrustRoot(keys);
  return () => Promise.resolve(root);
}
