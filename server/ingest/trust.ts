/**
 * What ingest trusts: by default the service's own trust root (its org root, which certifies
 * enrolled devices, and its service key), the same one enrollment serves at /v1/trust-root; a
 * `TrustSource` may add device keys trusted directly. Revocation is enrollment's to say.
 */
import type { TrustRoot } from '../../shared/bundle/manifest.ts';
import type { Queryable } from '../db/database.ts';
import { trustRootOf, type ServiceKeys } from '../keys/service-keys.ts';

export type TrustSource = (db: Queryable) => Promise<TrustRoot>;

/**
 * Where a device key stands with enrollment. A device certificate says nothing of revocation, so
 * ingest and the live checkpoint routes ask before they trust a device (enrollment's deviceStanding).
 */
export type DeviceStanding = (db: Queryable, deviceKeyId: string) => Promise<'enrolled' | 'revoked' | 'unknown'>;

/** The service's own keys (trustRootOf): a device certified by its org root verifies as trusted. */
export function ownKeysTrustSource(keys: ServiceKeys, name: string): TrustSource {
  const root = trustRootOf(keys, name);
  return () => Promise.resolve(root);
}
