/**
 * `custody keys show` and `custody keys trust-root [--out FILE]`. Until the
 * device is enrolled with an org root (central service), an auditor can trust
 * this device's key directly: the trust root file then lists it with role `device`.
 */
import { writeFile } from 'node:fs/promises';
import { toBase64, type TrustRoot } from '../shared/bundle/index.ts';
import { FileKeyStore } from '../recorder/index.ts';
import { dataDir, deviceKeyFile } from './paths.ts';

export async function keys(action: string | undefined, out: string | undefined): Promise<number> {
  const store = new FileKeyStore(deviceKeyFile(dataDir()));
  const key = await store.deviceKey();
  if (action === 'show') {
    process.stdout.write(`device key ${key.keyId}\npublic key ${toBase64(key.publicKey)} (Ed25519)\nfile ${store.path}\n`);
    return 0;
  }
  const root: TrustRoot = {
    version: 1,
    name: `device ${key.keyId.slice(0, 16)}`,
    keys: [{ keyId: key.keyId, publicKey: toBase64(key.publicKey), role: 'device', name: 'this device (not enrolled)' }],
  };
  const text = JSON.stringify(root, null, 2) + '\n';
  if (out === undefined) process.stdout.write(text);
  else {
    await writeFile(out, text);
    process.stderr.write(`custody: wrote trust root for device key ${key.keyId.slice(0, 16)}… to ${out}\n`);
  }
  return 0;
}
