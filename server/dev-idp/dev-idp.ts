/**
 * The development identity provider: a real OpenID Provider (`oidc-provider`) on loopback, for
 * the embedded defaults (`npm start`) and the tests. Never in production (config.ts refuses it).
 *
 * - One public native client, `custody-desktop`: authorization code with PKCE S256 (required
 *   for public clients), loopback redirects on any port (RFC 8252 §7.3: `http://127.0.0.1/…`
 *   is registered, any port is accepted), refresh tokens, and the device authorization grant.
 * - Access tokens are JWTs for the central service (resource indicators; audience = the
 *   service's), carrying the user's `groups`; the service maps groups to roles.
 * - Seeded users in different groups; the sign-in page is oidc-provider's development page, which
 *   asks for a user name (any password).
 *
 * Signing keys are made on first start and kept in `keysFile`, so that a restart does not
 * invalidate the tokens the app holds.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import Provider, { type Configuration, type JWK, type KoaContextWithOIDC } from 'oidc-provider';

export const DESKTOP_CLIENT_ID = 'custody-desktop';

export interface DevUser {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly groups: readonly string[];
}

/** Users in each group the embedded defaults map to a role (server/dev-idp/defaults.ts). */
export const DEV_USERS: readonly DevUser[] = [
  { id: 'alice', name: 'Alice Admin', email: 'alice@example.test', groups: ['custody-admins'] },
  { id: 'bob', name: 'Bob Admin-Approver', email: 'bob@example.test', groups: ['custody-admins', 'custody-approvers'] },
  { id: 'carol', name: 'Carol Approver', email: 'carol@example.test', groups: ['custody-approvers', 'custody-oncall'] },
  { id: 'dave', name: 'Dave Auditor', email: 'dave@example.test', groups: ['custody-auditors'] },
  { id: 'erin', name: 'Erin Service-Admin', email: 'erin@example.test', groups: ['custody-service-admins'] },
  { id: 'frank', name: 'Frank Nobody', email: 'frank@example.test', groups: [] },
];

/** The group → role mapping that goes with DEV_USERS. */
export const DEV_ROLE_GROUPS = {
  admin: ['custody-admins'],
  approver: ['custody-approvers'],
  auditor: ['custody-auditors'],
  'service-admin': ['custody-service-admins'],
};

export interface DevIdpOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** The audience of access tokens: the central service's identifier. */
  readonly audience: string;
  /** Where the signing keys are kept between starts. */
  readonly keysFile: string;
  readonly accessTokenTtlSeconds?: number;
  readonly users?: readonly DevUser[];
}

export interface RunningDevIdp {
  readonly issuer: string;
  readonly users: readonly DevUser[];
  stop(): Promise<void>;
}

async function signingKeys(file: string): Promise<JWK[]> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as JWK[];
  } catch {
    const es = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const rs = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const keys = [
      { ...es, alg: 'ES256', use: 'sig', kid: `es-${Date.now().toString(36)}` },
      { ...rs, alg: 'RS256', use: 'sig', kid: `rs-${Date.now().toString(36)}` },
    ];
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(keys), { mode: 0o600 });
    return keys;
  }
}

export async function startDevIdp(options: DevIdpOptions): Promise<RunningDevIdp> {
  const users = options.users ?? DEV_USERS;
  const byId = new Map(users.map((u) => [u.id, u]));
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const ttl = options.accessTokenTtlSeconds ?? 600;

  const configuration: Configuration = {
    clients: [
      {
        client_id: DESKTOP_CLIENT_ID,
        client_name: 'Custody desktop',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: await signingKeys(options.keysFile) },
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { openid: ['sub'], profile: ['name'], email: ['email'], groups: ['groups'] },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: KoaContextWithOIDC, resource: string) => {
          if (resource !== options.audience) throw new Error(`unknown resource ${resource}`);
          return { scope: 'openid offline_access profile email', audience: options.audience, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
        },
      },
    },
    async findAccount(_ctx, id) {
      const user = byId.get(id);
      if (user === undefined) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, name: user.name, email: user.email, groups: [...user.groups] }),
      };
    },
    extraTokenClaims: async (_ctx, token) => {
      const user = byId.get((token as { accountId?: string }).accountId ?? '');
      return user === undefined ? undefined : { groups: [...user.groups], name: user.name, email: user.email };
    },
    // A public client gets a refresh token whenever it may use one: the app signs in once a day.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: { AccessToken: ttl, IdToken: ttl, RefreshToken: 8 * 3600, Session: 8 * 3600, Grant: 8 * 3600, Interaction: 600, DeviceCode: 600, AuthorizationCode: 60 },
    loadExistingGrant: async (ctx) => {
      // Development only: consent is implied for our own client, so sign-in is one page.
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid offline_access profile email');
      grant.addResourceScope(options.audience, 'openid offline_access profile email');
      await grant.save();
      return grant;
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>Sign-in error</title><h1>${escapeHtml(String(out['error']))}</h1><p>${escapeHtml(String(out['error_description'] ?? ''))}</p>`;
    },
  };
  const provider = new Provider(issuer, configuration);
  // oidc-provider warns about development settings on every start; these are on purpose here.
  provider.on('server_error', (_ctx, error) => console.error('dev IdP error:', error));
  const handle = provider.callback();
  server.on('request', (request, response) => void handle(request, response));
  return {
    issuer,
    users,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
