/**
 * The service's HTTP application: Fastify with zod schemas on every route (validation, typed
 * handlers, and the OpenAPI document at /openapi.json from the same schemas), one error body,
 * structured logs that never hold a token, and an access rule that every route must declare.
 */
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyRequest, type RawServerDefault } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { DestinationStream } from 'pino';
import { DEVICE_HEADER, DeviceIdSchema } from '../../shared/api/problem.ts';
import { appendAudit } from '../audit/audit-log.ts';
import type { AccessTokenVerifier, Principal } from '../auth/access-token.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { ServiceConfig } from '../config.ts';
import type { Database } from '../db/database.ts';
import { findDevice } from '../enrollment/devices.ts';
import type { ServiceKeys } from '../keys/service-keys.ts';
import { badRequest, forbidden, HttpError, installErrorHandler } from './errors.ts';
import type { ServiceApp, ServiceContext, ServiceModule } from './context.ts';

export interface ServiceOptions {
  readonly config: ServiceConfig;
  readonly db: Database;
  readonly blobs: BlobStore;
  readonly keys: ServiceKeys;
  readonly tokens: AccessTokenVerifier;
  readonly modules: readonly ServiceModule[];
  readonly now?: () => number;
  /** Where logs go (tests read them); by default stdout. `false`: no logs. */
  readonly logStream?: DestinationStream | false;
  readonly version?: string;
}

/**
 * The device a caller names in x-custody-device, as the audit log may record it: one enrolled to
 * this caller and not revoked. A device nobody enrolled (an app before enrollment) is not
 * recorded; a device of someone else, or a revoked one, is refused: the header would otherwise
 * let a caller put another user's laptop, or a stolen one, into the audit log.
 */
async function deviceOfCaller(db: Database, id: string, subject: string): Promise<string | null> {
  const device = await findDevice(db, id);
  if (device === undefined) return null;
  if (device.owner !== subject) throw forbidden(`device ${id.slice(0, 16)}… is not one of your enrolled devices`);
  if (device.revokedAt !== null) throw forbidden(`device ${id.slice(0, 16)}… was revoked: enroll this device again with a new key`);
  return device.id;
}

/** Headers whose values never reach a log line. */
const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'dpop', 'proxy-authorization'];

export async function buildService(options: ServiceOptions): Promise<{ app: ServiceApp; context: ServiceContext }> {
  const { config, db, tokens } = options;
  const now = options.now ?? Date.now;
  const app = Fastify<RawServerDefault>({
    logger:
      options.logStream === false
        ? false
        : {
            level: 'info',
            redact: { paths: SECRET_HEADERS.flatMap((h) => [`req.headers.${h}`, `res.headers.${h}`]), censor: '[hidden]' },
            serializers: {
              // The path only: a query string is the one place a careless client could put a token.
              req: (req: FastifyRequest) => ({ method: req.method, url: req.url.split('?')[0] ?? '', remoteAddress: req.ip }),
            },
            ...(options.logStream === undefined ? {} : { stream: options.logStream }),
          },
    bodyLimit: config.limits.jsonBodyBytes,
    // Ids in paths are ours; nothing of a client's choosing needs more.
    routerOptions: { maxParamLength: 200 },
    trustProxy: false,
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  app.decorateRequest('principal', null);
  app.decorateRequest('device', null);

  // Every route says who may call it; a route that does not is a bug caught at start.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/openapi') || route.config?.access !== undefined) return;
    throw new Error(`route ${String(route.method)} ${route.url} does not declare config.access`);
  });

  app.addHook('preHandler', async (request) => {
    const deviceHeader = request.headers[DEVICE_HEADER];
    let claimedDevice: string | undefined;
    if (deviceHeader !== undefined) {
      const parsed = DeviceIdSchema.safeParse(deviceHeader);
      if (!parsed.success) throw badRequest(`the ${DEVICE_HEADER} header ${parsed.error.issues[0]?.message ?? 'is not valid'}`);
      claimedDevice = parsed.data;
    }
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'public') return;
    const principal = await tokens.verifyHeader(request.headers.authorization);
    request.principal = principal;
    if (claimedDevice !== undefined) request.device = await deviceOfCaller(db, claimedDevice, principal.subject);
    if (access === 'signed-in') return;
    if (!access.some((role) => principal.roles.has(role))) {
      throw forbidden(`this needs the role ${access.join(' or ')}; you have ${principal.roles.size === 0 ? 'none' : [...principal.roles].join(', ')}`);
    }
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Custody central service', version: options.version ?? '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const principalOf = (request: FastifyRequest): Principal => {
    if (request.principal === null) throw new HttpError('internal', 'a route used the caller without declaring access');
    return request.principal;
  };
  const context: ServiceContext = {
    config,
    db,
    blobs: options.blobs,
    keys: options.keys,
    now,
    principalOf,
    audit: (tx, request, action, target, details) =>
      appendAudit(tx, { actor: request.principal?.subject ?? 'anonymous', device: request.device ?? undefined, action, target, ...(details === undefined ? {} : { details }) }, now()),
  };

  for (const module of options.modules) await app.register(async (scope) => module.register(scope as unknown as ServiceApp, context), { prefix: '' });
  app.addHook('onClose', async () => {
    for (const module of options.modules) await module.close?.();
  });

  app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return { app, context };
}
