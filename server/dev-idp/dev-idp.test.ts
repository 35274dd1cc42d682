import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { refresh, signInAs } from '../../test/support/idp.ts';
import { parseConfig } from '../config.ts';
import { DESKTOP_CLIENT_ID, DEV_ROLE_GROUPS, startDevIdp, type RunningDevIdp } from './dev-idp.ts';

const AUDIENCE = 'https://custody.test/api';

describe('the dev IdP (oidc-provider)', () => {
  let idp: RunningDevIdp;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-idp-'));
    idp = await startDevIdp({ port: 0, audience: AUDIENCE, keysFile: join(dir, 'keys.json') });
  });
  after(async () => {
    await idp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const authorize = (params: Record<string, string>): Promise<Response> => {
    const url = new URL('/auth', idp.issuer);
    url.search = new URLSearchParams({ client_id: DESKTOP_CLIENT_ID, response_type: 'code', scope: 'openid', state: 's', resource: AUDIENCE, ...params }).toString();
    return fetch(url, { redirect: 'manual' });
  };

  test('a seeded user signs in (PKCE, loopback redirect) and gets a JWT for the service with their groups, an ID token and a refresh token', async () => {
    const tokens = await signInAs(idp.issuer, 'carol', AUDIENCE);
    const claims = decodeJwt(tokens.accessToken);
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.sub, 'carol');
    assert.deepEqual(claims['groups'], ['custody-approvers', 'custody-oncall']);
    assert.ok(tokens.idToken);
    assert.ok(tokens.refreshToken);

    const renewed = await refresh(idp.issuer, tokens.refreshToken, AUDIENCE);
    assert.equal(decodeJwt(renewed.accessToken).sub, 'carol');
    assert.ok(renewed.refreshToken && renewed.refreshToken !== tokens.refreshToken, 'refresh tokens rotate');
    await assert.rejects(refresh(idp.issuer, tokens.refreshToken, AUDIENCE), /invalid_grant/, 'a used refresh token is spent');
  });

  test('an unknown user cannot sign in', async () => {
    await assert.rejects(signInAs(idp.issuer, 'mallory', AUDIENCE));
  });

  test('PKCE is required, and only S256; redirects must be loopback (any port)', async () => {
    const noPkce = await authorize({ redirect_uri: 'http://127.0.0.1:4567/callback' });
    assert.match(noPkce.headers.get('location') ?? '', /error=invalid_request.*PKCE/);
    const plain = await authorize({ redirect_uri: 'http://127.0.0.1:4567/callback', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    assert.match(plain.headers.get('location') ?? '', /error=invalid_request/);
    const anyPort = await authorize({ redirect_uri: 'http://127.0.0.1:61234/callback', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    assert.match(anyPort.headers.get('location') ?? '', /\/interaction\//, 'a loopback redirect on any port goes on to sign-in');
    const elsewhere = await authorize({ redirect_uri: 'http://evil.example/callback', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    assert.equal(elsewhere.status, 400, 'a foreign redirect is an error page, never a redirect');
  });

  test('the device authorization grant starts and polls as RFC 8628 says', async () => {
    const started = await fetch(new URL('/device/auth', idp.issuer), {
      method: 'POST',
      body: new URLSearchParams({ client_id: DESKTOP_CLIENT_ID, scope: 'openid offline_access', resource: AUDIENCE }),
    });
    assert.equal(started.status, 200);
    const grant = (await started.json()) as { device_code: string; user_code: string; verification_uri: string; interval: number };
    assert.match(grant.verification_uri, /^http:\/\/127\.0\.0\.1:\d+\/device$/);
    assert.ok(grant.user_code.length >= 8);
    const poll = await fetch(new URL('/token', idp.issuer), {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: grant.device_code, client_id: DESKTOP_CLIENT_ID }),
    });
    assert.equal(((await poll.json()) as { error: string }).error, 'authorization_pending');
  });
});

test('a production configuration refuses the dev IdP, naming the field', () => {
  assert.throws(
    () => parseConfig({ production: true, dataDir: '/srv/custody', auth: { issuer: 'https://idp.example', audience: 'custody', roleGroups: DEV_ROLE_GROUPS }, devIdp: { enabled: true } }),
    /devIdp\.enabled: the dev IdP is never enabled in production/,
  );
});
