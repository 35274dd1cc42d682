/**
 * The service as an OIDC resource server: it accepts the IdP's access tokens (JWTs) and nothing
 * else. jose checks the signature against the IdP's JWKS (fetched from its discovery document,
 * cached, and fetched again when a token names a key it has not seen: key rotation), the issuer,
 * the audience, the expiry and not-before with a small clock tolerance.
 *
 * Every refusal says what was wrong, never echoing the token.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { rolesOf, type Role, type RoleGroups } from './roles.ts';

export interface Principal {
  /** The IdP's `sub`: who, for the audit log and ownership. */
  readonly subject: string;
  readonly name: string | undefined;
  readonly email: string | undefined;
  readonly groups: readonly string[];
  readonly roles: ReadonlySet<Role>;
  /** When the token expires (ms since the epoch). */
  readonly expiresAt: number;
}

export interface AccessTokenOptions {
  readonly issuer: string;
  readonly audience: string;
  /** The claim that lists the user's groups. */
  readonly groupsClaim: string;
  readonly roleGroups: RoleGroups;
  readonly clockToleranceSeconds: number;
  /** The JWKS address; by default the one the issuer's discovery document names. */
  readonly jwksUri?: string | undefined;
  /** The time, for tests of expiry (seconds are what JWTs count). */
  readonly now?: () => number;
  /**
   * Least time between two JWKS fetches for a key id not seen before (jose's cooldown, 30 s by
   * default): a rotated key is picked up on its first token, a flood of made-up key ids is not
   * a flood of fetches.
   */
  readonly jwksCooldownMs?: number;
}

/** A request without a usable token (401), or the IdP could not be asked (503). */
export class AuthenticationError extends Error {
  readonly status: 401 | 503;

  constructor(message: string, status: 401 | 503 = 401) {
    super(message);
    this.name = 'AuthenticationError';
    this.status = status;
  }
}

const ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const MAX_TOKEN_LENGTH = 16 * 1024;

export class AccessTokenVerifier {
  readonly #options: AccessTokenOptions;
  #jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  constructor(options: AccessTokenOptions) {
    this.#options = options;
  }

  /** The principal of an `Authorization` header's bearer token. */
  async verifyHeader(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.length === 0) throw new AuthenticationError('no access token: send Authorization: Bearer <token>');
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (match === null) throw new AuthenticationError('the Authorization header is not "Bearer <token>"');
    return this.verify(match[1]!);
  }

  async verify(token: string): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthenticationError(`the access token is longer than ${MAX_TOKEN_LENGTH} characters`);
    const options = this.#options;
    let payload: JWTPayload;
    try {
      const jwks = await this.#keySet();
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ALGORITHMS,
        clockTolerance: options.clockToleranceSeconds,
        requiredClaims: ['sub', 'exp', 'iat'],
        ...(options.now === undefined ? {} : { currentDate: new Date(options.now()) }),
      }));
    } catch (error) {
      const unreachable = !(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout;
      throw new AuthenticationError(unreachable ? `the identity provider's keys could not be fetched: ${(error as Error).message}` : refusal(error), unreachable ? 503 : 401);
    }
    const rawGroups = payload[options.groupsClaim];
    const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === 'string') : [];
    return {
      subject: payload.sub!,
      name: typeof payload['name'] === 'string' ? payload['name'] : undefined,
      email: typeof payload['email'] === 'string' ? payload['email'] : undefined,
      groups,
      roles: rolesOf(groups, options.roleGroups),
      expiresAt: payload.exp! * 1000,
    };
  }

  #keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.#jwks ??= this.#discover().catch((error: unknown) => {
      this.#jwks = undefined; // try again on the next request
      throw error;
    });
    return this.#jwks;
  }

  async #discover(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    let uri = this.#options.jwksUri;
    if (uri === undefined) {
      const discovery = `${this.#options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const response = await fetch(discovery, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`the IdP's discovery document ${discovery} answered ${response.status}`);
      const document = (await response.json()) as { jwks_uri?: unknown; issuer?: unknown };
      if (document.issuer !== this.#options.issuer) throw new Error(`the IdP's discovery document names issuer ${String(document.issuer)}, not ${this.#options.issuer}`);
      if (typeof document.jwks_uri !== 'string') throw new Error(`the IdP's discovery document ${discovery} has no jwks_uri`);
      uri = document.jwks_uri;
    }
    // jose caches the keys (10 minutes) and fetches again, at most every 30 s, for an unknown kid.
    return createRemoteJWKSet(new URL(uri), { cooldownDuration: this.#options.jwksCooldownMs ?? 30_000, timeoutDuration: 10_000 });
  }
}

function refusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the access token has expired: refresh it or sign in again';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'aud':
        return 'the access token is not meant for this service (wrong audience)';
      case 'iss':
        return 'the access token was issued by another identity provider (wrong issuer)';
      case 'nbf':
        return 'the access token is not valid yet (check the clocks)';
      default:
        return `the access token's ${error.claim} claim is wrong: ${error.reason}`;
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the access token's signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey) return 'the access token is signed with a key the identity provider does not publish';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the access token uses a signing algorithm this service does not accept';
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) return 'the access token is not a well-formed JWT';
  return `the access token was refused: ${(error as errors.JOSEError).code}`;
}
