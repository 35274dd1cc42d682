/**
 * Test support for the SSH CA: user keys made by ssh-keygen, and what OpenSSH itself says about
 * a certificate (`ssh-keygen -L`) and a KRL (`ssh-keygen -Q`), so tests assert on what sshd
 * would read rather than on our own parsing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { RunningSshd } from '../../test/support/sshd.ts';
import type { Queryable } from '../db/database.ts';
import type { GrantForCertificate, GrantLookup, GrantRefusal } from './authority.ts';

export interface UserKey {
  /** The private key file (ssh -i). */
  readonly file: string;
  /** The `.pub` line, as a client sends it. */
  readonly publicLine: string;
}

export async function makeUserKey(dir: string, type: 'ed25519' | 'ecdsa' = 'ed25519'): Promise<UserKey> {
  const file = join(dir, `user-${randomUUID()}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'admin@laptop', '-f', file]);
  return { file, publicLine: await readFile(`${file}.pub`, 'utf8') };
}

export interface CertificateFacts {
  readonly keyId: string;
  readonly serial: number;
  readonly principals: string[];
  readonly extensions: string[];
  readonly criticalOptions: string;
  readonly signingCa: string;
  readonly validFrom: string;
  readonly validTo: string;
}

/** `ssh-keygen -L` of a certificate line, read into fields. */
export async function inspectCertificate(dir: string, certificate: string): Promise<CertificateFacts> {
  const file = join(dir, `inspect-${randomUUID()}-cert.pub`);
  await writeFile(file, `${certificate}\n`);
  const text = execFileSync('ssh-keygen', ['-L', '-f', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  const field = (name: string): string => new RegExp(`^\\s*${name}: ?(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const list = (name: string): string[] => {
    const lines = text.split('\n');
    const start = lines.findIndex((l) => l.trim().startsWith(`${name}:`));
    const out: string[] = [];
    for (let i = start + 1; i < lines.length && /^\s{16}\S/.test(lines[i]!); i++) out.push(lines[i]!.trim());
    return out;
  };
  const valid = /^\s*Valid: from (\S+) to (\S+)$/m.exec(text);
  return {
    keyId: JSON.parse(field('Key ID')) as string,
    serial: Number(field('Serial')),
    principals: list('Principals'),
    extensions: list('Extensions'),
    criticalOptions: field('Critical Options'),
    signingCa: field('Signing CA'),
    validFrom: valid?.[1] ?? '',
    validTo: valid?.[2] ?? '',
  };
}

/** Whether OpenSSH finds `certificate` in the KRL `krl` (`ssh-keygen -Q`). */
export async function revokedBy(dir: string, krl: Uint8Array, certificate: string): Promise<boolean> {
  const krlFile = join(dir, `krl-${randomUUID()}`);
  const certFile = join(dir, `q-${randomUUID()}-cert.pub`);
  await writeFile(krlFile, krl);
  await writeFile(certFile, `${certificate}\n`);
  const result = spawnSync('ssh-keygen', ['-Q', '-f', krlFile, certFile], { encoding: 'utf8' });
  if (/REVOKED/.test(result.stdout)) return true;
  if (result.status === 0 && /ok/.test(result.stdout)) return false;
  throw new Error(`ssh-keygen -Q failed (${result.status}): ${result.stderr}${result.stdout}`);
}

/** `YYYY-MM-DDTHH:MM:SS` in UTC, as `ssh-keygen -L` prints it under TZ=UTC. */
export function sshTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}

/**
 * The CA's grant lookup is its parameter: here a table of answers a test sets, standing for what
 * the JIT module would say (the service wires the JIT module itself in).
 */
export class GrantAnswers implements GrantLookup {
  readonly answers = new Map<string, GrantForCertificate | GrantRefusal | ((call: number) => GrantForCertificate | GrantRefusal)>();
  readonly owners = new Map<string, string>();
  readonly #calls = new Map<string, number>();

  activeGrant(_q: Queryable, grantId: string, subject: string): Promise<GrantForCertificate | GrantRefusal> {
    const call = (this.#calls.get(grantId) ?? 0) + 1;
    this.#calls.set(grantId, call);
    const answer = this.answers.get(grantId);
    if (answer === undefined) return Promise.resolve({ refused: 'not-found', message: `grant ${grantId} does not exist` });
    if (this.owners.get(grantId) !== subject) return Promise.resolve({ refused: 'not-yours', message: `grant ${grantId} is not yours` });
    return Promise.resolve(typeof answer === 'function' ? answer(call) : answer);
  }

  active(id: string, owner: string, principals: string[], endsAt: number): void {
    this.answers.set(id, { id, principals, endsAt });
    this.owners.set(id, owner);
  }
}

interface JitCallers {
  readonly serviceAdmin: JitCaller;
  readonly requester: JitCaller;
  readonly approver: JitCaller;
}

/** What the harness's callers offer (service.test-support.ts `Caller`), all this needs. */
interface JitCaller {
  post(path: string, body: unknown): Promise<Response>;
}

async function created<T>(response: Response, status = 201): Promise<T> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * A grant made the way people make one, through the JIT module's API: a target (service
 * admin), a policy for it, a request (requester), an approval (approver); started unless
 * `start: false`. Returns the request id, which is the grant id.
 */
export async function grantThroughJit(
  callers: JitCallers,
  options: { host?: string; port?: number; principal: string; durationMinutes?: number; start?: boolean },
): Promise<string> {
  const tag = randomUUID().slice(0, 8);
  const target = await created<{ id: string }>(
    await callers.serviceAdmin.post('/v1/jit/targets', { name: `ca-${tag}`, host: options.host ?? '127.0.0.1', port: options.port ?? 22, principals: [options.principal], labels: [`ca-${tag}`], environment: 'dev' }),
  );
  await created(
    await callers.serviceAdmin.post('/v1/jit/policies', {
      id: `ca-${tag}`,
      rules: { name: `ca ${tag}`, priority: 1, match: { label: `ca-${tag}` }, requesterGroups: ['custody-admins'], approverGroups: ['custody-approvers'], maxDurationMinutes: 240, reasonRequired: true },
    }),
  );
  const request = await created<{ id: string }>(
    await callers.requester.post('/v1/jit/requests', { targetId: target.id, principal: options.principal, durationMinutes: options.durationMinutes ?? 60, reason: 'certificate test' }),
  );
  await created(await callers.approver.post(`/v1/jit/requests/${request.id}/reviews`, { decision: 'approve', reason: 'fine' }), 200);
  if (options.start !== false) await created(await callers.requester.post(`/v1/jit/requests/${request.id}/start`, {}), 200);
  return request.id;
}

/**
 * `ssh … true` to `sshd` as its user with only this key and certificate (no agent, no config,
 * no password): whether it logged in, and what sshd logged meanwhile (why it refused).
 */
export async function sshLogin(sshd: RunningSshd, key: UserKey, certificate: string): Promise<{ ok: boolean; sshd: string; ssh: string }> {
  const certFile = `${key.file}-cert.pub`;
  await writeFile(certFile, `${certificate}\n`);
  const logBefore = sshd.log().length;
  const result = spawnSync(
    'ssh',
    [
      ...['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${key.file}.known_hosts`],
      ...['-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'PreferredAuthentications=publickey'],
      ...['-o', `CertificateFile=${certFile}`, '-i', key.file, '-p', String(sshd.port), `${sshd.user}@127.0.0.1`, 'true'],
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  // sshd logs the outcome as the client leaves; give the pipe a moment to deliver it.
  for (let i = 0; i < 50 && !/Accepted|Connection closed|Disconnected/.test(sshd.log().slice(logBefore)); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return { ok: result.status === 0, sshd: sshd.log().slice(logBefore), ssh: result.stderr };
}
