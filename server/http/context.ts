/**
 * What every route module of the service is given: configuration, storage, the clock, and the
 * helpers that make each route authenticate and audit the same way.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AuditEntry } from '../audit/audit-log.ts';
import type { Principal } from '../auth/access-token.ts';
import type { Role } from '../auth/roles.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { ServiceConfig } from '../config.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { ServiceKeys } from '../keys/service-keys.ts';

export type ServiceApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/** Who may call a route: anyone (`public`), any signed-in user (`signed-in`), or these roles. */
export type Access = 'public' | 'signed-in' | readonly Role[];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: the service refuses to start with a route that has none. */
    access?: Access;
  }
  interface FastifyRequest {
    /** The caller, for routes that are not public. */
    principal: Principal | null;
    /** The device the caller names in x-custody-device, when it is enrolled to them and not revoked. */
    device: string | null;
  }
}

export interface ServiceContext {
  readonly config: ServiceConfig;
  readonly db: Database;
  /** Where recordings are stored: write-once, with retention and legal hold. */
  readonly blobs: BlobStore;
  /** The org root (certifies devices) and the service key (cosigns, signs receipts). */
  readonly keys: ServiceKeys;
  /** The server's clock (ms since the epoch): every deadline and lifecycle rule reads it. */
  readonly now: () => number;
  /** The caller of a non-public route (set by the access check before the handler runs). */
  readonly principalOf: (request: FastifyRequest) => Principal;
  /** Appends an audit entry for `request`'s caller within `tx` (the change's transaction). */
  readonly audit: (tx: Queryable, request: FastifyRequest, action: string, target?: string, details?: Record<string, unknown>) => Promise<AuditEntry>;
}

/** A part of the API (JIT, SSH CA, enrollment, ingest…): registers its routes. */
export interface ServiceModule {
  readonly name: string;
  register(app: ServiceApp, context: ServiceContext): void | Promise<void>;
  /** Stops timers and connections (live-update streams) when the service closes. */
  close?(): void | Promise<void>;
}
