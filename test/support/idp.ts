/**
 * Test support: signs a dev IdP user in over plain HTTP, the way a browser would: the
 * authorization code flow with PKCE S256, state and nonce, through the IdP's own sign-in page
 * (oidc-provider's development page), then the token endpoint. Tests of the service get real
 * access tokens this way; the app's own sign-in (openid-client, a loopback redirect, the system
 * browser) is tested end to end in Chromium.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DESKTOP_CLIENT_ID } from '../../server/dev-idp/dev-idp.ts';

export interface Tokens {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
  readonly expiresIn: number;
}

const REDIRECT = 'http://127.0.0.1:53682/callback';

/** Cookies of one browser: enough of RFC 6265 for one host. */
class CookieJar {
  readonly #cookies = new Map<string, string>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq > 0) this.#cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }

  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export async function signInAs(issuer: string, user: string, audience: string): Promise<Tokens> {
  const jar = new CookieJar();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const go = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const response = await fetch(new URL(url, issuer), { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: jar.header() } });
    jar.take(response);
    return response;
  };
  const auth = new URL('/auth', issuer);
  auth.search = new URLSearchParams({
    client_id: DESKTOP_CLIENT_ID,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid offline_access profile email',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    nonce: randomBytes(16).toString('base64url'),
    resource: audience,
    prompt: 'consent',
  }).toString();

  let response = await go(auth.toString());
  // Follow redirects by hand (cookies), submitting the login form when it is shown.
  for (let hop = 0; hop < 10; hop++) {
    const location = response.headers.get('location');
    if (location !== null) {
      if (location.startsWith(REDIRECT)) return exchange(issuer, location, state, verifier, audience);
      response = await go(location);
      continue;
    }
    const html = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (response.status !== 200 || action === undefined) throw new Error(`sign-in as ${user} stopped at ${response.status}: ${html.slice(0, 300)}`);
    const fields = new URLSearchParams();
    for (const [input] of html.matchAll(/<input[^>]*>/g)) {
      const name = /\bname="([^"]*)"/.exec(input)?.[1];
      if (name !== undefined) fields.set(name, /\bvalue="([^"]*)"/.exec(input)?.[1] ?? '');
    }
    if (fields.has('login')) fields.set('login', user);
    if (fields.has('password')) fields.set('password', 'any password: development sign-in');
    response = await go(action, { method: 'POST', body: fields, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
  throw new Error(`sign-in as ${user}: too many redirects`);
}

async function exchange(issuer: string, location: string, state: string, verifier: string, audience: string): Promise<Tokens> {
  const callback = new URL(location);
  if (callback.searchParams.get('error')) throw new Error(`sign-in refused: ${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`);
  if (callback.searchParams.get('state') !== state) throw new Error('sign-in: the state came back different');
  return tokenRequest(issuer, {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code') ?? '',
    redirect_uri: REDIRECT,
    client_id: DESKTOP_CLIENT_ID,
    code_verifier: verifier,
    resource: audience,
  });
}

export async function refresh(issuer: string, refreshToken: string, audience: string): Promise<Tokens> {
  return tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: DESKTOP_CLIENT_ID, resource: audience });
}

async function tokenRequest(issuer: string, fields: Record<string, string>): Promise<Tokens> {
  const response = await fetch(new URL('/token', issuer), { method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`token endpoint ${response.status}: ${JSON.stringify(body)}`);
  return {
    accessToken: String(body['access_token']),
    refreshToken: typeof body['refresh_token'] === 'string' ? body['refresh_token'] : undefined,
    idToken: typeof body['id_token'] === 'string' ? body['id_token'] : undefined,
    expiresIn: Number(body['expires_in']),
  };
}
