/**
 * The service's own Ed25519 keys (ARCHITECTURE.md, "Keys and trust"):
 *
 * - org root: certifies device keys at enrollment; its public part is the trust root auditors
 *   load. In a deployment it may live offline or in an HSM; here it is a file of the service's.
 * - service key: cosigns checkpoints and manifests at ingest and signs receipts.
 *
 * Each is made on first start and kept in `<dataDir>/keys/<name>.key` (mode 0600, created
 * exclusively, so two instances starting at once cannot end up with different keys: the loser
 * reads the winner's). Instances of one deployment share the directory or are given the files.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBase64, toBase64 } from '../../shared/bundle/bytes.ts';
import { keyIdOf, type Ed25519Signer } from '../../shared/bundle/crypto.ts';
import { nodeSuite, signerFromSeed } from '../../node-adapters/crypto.ts';
import type { TrustRoot } from '../../shared/bundle/manifest.ts';

export interface ServiceKey extends Ed25519Signer {
  readonly keyId: string;
}

export interface ServiceKeys {
  readonly orgRoot: ServiceKey;
  readonly service: ServiceKey;
}

const KEY_FILE_VERSION = 1;

async function loadOrCreate(dir: string, name: string): Promise<ServiceKey> {
  const file = join(dir, `${name}.key`);
  let secret: Uint8Array;
  try {
    secret = await read(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    try {
      await writeFile(file, JSON.stringify({ version: KEY_FILE_VERSION, ed25519SecretKey: toBase64(randomBytes(32)) }), { mode: 0o600, flag: 'wx' });
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
    }
    secret = await read(file);
  }
  const signer = signerFromSeed(secret);
  return { ...signer, keyId: keyIdOf(nodeSuite, signer.publicKey) };
}

async function read(file: string): Promise<Uint8Array> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) throw new Error(`${file} is readable by others (mode ${(info.mode & 0o777).toString(8)}); make it 0600`);
  const parsed = JSON.parse(await readFile(file, 'utf8')) as { version?: unknown; ed25519SecretKey?: unknown };
  const secret = typeof parsed.ed25519SecretKey === 'string' ? fromBase64(parsed.ed25519SecretKey) : undefined;
  if (parsed.version !== KEY_FILE_VERSION || secret === undefined || secret.length !== 32) throw new Error(`${file} is not a Custody service key file`);
  return secret;
}

export async function loadServiceKeys(dataDir: string): Promise<ServiceKeys> {
  const dir = join(dataDir, 'keys');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return { orgRoot: await loadOrCreate(dir, 'org-root'), service: await loadOrCreate(dir, 'service') };
}

/**
 * The public trust root auditors load (`custody verify --trust FILE`): the org root, which
 * certifies devices, and the service key, which cosigns at ingest. GET /v1/trust-root serves it
 * and `custody-server trust-root --out FILE` writes it.
 */
export function trustRootOf(keys: ServiceKeys, name: string): TrustRoot {
  return {
    version: 1,
    name,
    keys: [
      { keyId: keys.orgRoot.keyId, publicKey: toBase64(keys.orgRoot.publicKey), role: 'org-root', name: `${name} org root` },
      { keyId: keys.service.keyId, publicKey: toBase64(keys.service.publicKey), role: 'service', name: `${name} service key` },
    ],
  };
}
