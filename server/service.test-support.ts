/**
 * A whole service for tests: the dev IdP (real oidc-provider) on loopback, the service on
 * loopback with SQLite (or PostgreSQL) in a temp directory, its logs captured, and sign-in of the
 * seeded users through the IdP's pages.
 *
 *   const harness = await startHarness();
 *   after(() => harness.stop());
 *   const bob = await harness.as('bob');          // a real access token for bob
 *   const res = await bob.get('/v1/me');
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { enrollmentMessage, EnrolledDeviceSchema } from '../shared/api/enrollment.ts';
import { nobleSigner, toBase64, type Ed25519Signer } from '../shared/bundle/index.ts';
import { signInAs, type Tokens } from '../test/support/idp.ts';
import { parseConfig, type ServiceConfig } from './config.ts';
import { DEV_ROLE_GROUPS, startDevIdp, type RunningDevIdp } from './dev-idp/dev-idp.ts';
import type { ServiceModule } from './http/context.ts';
import { startService, type RunningService } from './service.ts';

export const TEST_AUDIENCE = 'https://custody.test/api';

export interface Caller {
  readonly tokens: Tokens;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  request(method: string, path: string, init?: { body?: BodyInit; headers?: Record<string, string> }): Promise<Response>;
}

export interface Harness {
  readonly service: RunningService;
  readonly idp: RunningDevIdp;
  readonly config: ServiceConfig;
  readonly dir: string;
  /** Every log line the service wrote, as text. */
  readonly logs: string[];
  as(user: string): Promise<Caller>;
  anonymous(): Caller;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  readonly database?: ServiceConfig['database'];
  readonly now?: () => number;
  readonly extraModules?: readonly ServiceModule[];
  readonly config?: Partial<Record<keyof ServiceConfig, unknown>>;
  readonly accessTokenTtlSeconds?: number;
  /**
   * Another instance of the same service: this harness uses that one's IdP and data directory
   * (its keys, so both speak for one org) and leaves both to it on stop.
   */
  readonly shareWith?: Harness;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const shared = options.shareWith;
  const dir = shared?.dir ?? (await mkdtemp(join(tmpdir(), 'custody-service-')));
  const idp = shared?.idp ?? (await startDevIdp({ port: 0, audience: TEST_AUDIENCE, keysFile: join(dir, 'idp-keys.json'), ...(options.accessTokenTtlSeconds === undefined ? {} : { accessTokenTtlSeconds: options.accessTokenTtlSeconds }) }));
  const config = parseConfig({
    dataDir: dir,
    auth: { issuer: idp.issuer, audience: TEST_AUDIENCE, roleGroups: DEV_ROLE_GROUPS },
    ...(options.database === undefined ? {} : { database: options.database }),
    ...options.config,
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  let service: RunningService;
  try {
    service = await startService(config, { logStream, ...(options.now === undefined ? {} : { now: options.now }), ...(options.extraModules === undefined ? {} : { extraModules: options.extraModules }) });
  } catch (error) {
    if (shared === undefined) await idp.stop();
    if (shared === undefined) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const caller = (tokens: Tokens | undefined): Caller => {
    const request = (method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> =>
      fetch(new URL(path, service.url), {
        method,
        ...(init.body === undefined ? {} : { body: init.body }),
        headers: { ...(tokens === undefined ? {} : { authorization: `Bearer ${tokens.accessToken}` }), ...init.headers },
      });
    return {
      tokens: tokens ?? { accessToken: '', refreshToken: undefined, idToken: undefined, expiresIn: 0 },
      request,
      get: (path, headers) => request('GET', path, { ...(headers === undefined ? {} : { headers }) }),
      post: (path, body, headers) => request('POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }),
    };
  };
  return {
    service,
    idp,
    config,
    dir,
    logs,
    as: async (user) => caller(await signInAs(idp.issuer, user, TEST_AUDIENCE)),
    anonymous: () => caller(undefined),
    stop: async () => {
      await service.close();
      if (shared !== undefined) return;
      await idp.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface EnrolledTestDevice {
  readonly id: string;
  readonly key: Ed25519Signer;
  /** The DSSE certificate the org root issued, as text. */
  readonly certificate: string;
}

/** Enrolls a device key made from `seed` for `caller`, as the app does (challenge, proof, enroll). */
export async function enrollTestDevice(caller: Caller, seed: number): Promise<EnrolledTestDevice> {
  const key = nobleSigner(new Uint8Array(32).fill(seed));
  const challengeResponse = await caller.post('/v1/devices/challenge', {});
  if (!challengeResponse.ok) throw new Error(`device challenge: ${challengeResponse.status} ${await challengeResponse.text()}`);
  const challenge = (await challengeResponse.json()) as { nonce: string; subject: string };
  const publicKey = toBase64(key.publicKey);
  const signature = toBase64(key.sign(enrollmentMessage(challenge.nonce, challenge.subject, publicKey)));
  const enrolled = await caller.post('/v1/devices', { publicKey, name: `test device ${seed}`, nonce: challenge.nonce, signature });
  if (!enrolled.ok) throw new Error(`enroll: ${enrolled.status} ${await enrolled.text()}`);
  const { device } = EnrolledDeviceSchema.parse(await enrolled.json());
  return { id: device.id, key, certificate: device.certificate };
}
