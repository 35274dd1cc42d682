/**
 * Ingest over HTTP: resumable uploads with tus (@tus/server, under /v1/uploads/), and the live
 * checkpoint stream of a running session.
 *
 * Uploads: an admin creates an upload (POST, Upload-Length, Upload-Metadata with sessionId and
 * sha256), sends it in PATCH chunks at offsets, and resumes after a broken connection with HEAD
 * (tus answers the offset it holds). A PATCH at an offset the service does not hold is refused
 * with 409 (a replayed chunk). Every tus request carries the bearer token, and an upload belongs
 * to who created it. Upload-Length over `limits.uploadBytes` is refused with 413. The final
 * PATCH answers with the ingest's result: 200 and the signed receipt, or 409/422 and why.
 *
 * Upload state (upload-area.ts): on the embedded defaults @tus/file-store under
 * `<dataDir>/uploads`, so an upload resumes after the service restarts; with an S3 blob store,
 * the bucket under `blobs.uploadPrefix` (@tus/s3-store) and, on PostgreSQL, a locker every
 * instance honours (upload-locker.ts), so any instance takes an upload's next request.
 */
import type { IncomingMessage } from 'node:http';
import { Server as TusServer, type Upload } from '@tus/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CheckpointAckSchema, CheckpointSubmitSchema, CosignedCheckpointsSchema, SessionStartedSchema, SessionStartSchema, UploadMetadataSchema } from '../../shared/api/ingest.ts';
import { SessionParamsSchema } from '../../shared/api/archive.ts';
import { fromBase64 } from '../../shared/bundle/bytes.ts';
import { appendAudit } from '../audit/audit-log.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { ServiceContext, ServiceModule } from '../http/context.ts';
import { badRequest, forbidden, notFound } from '../http/errors.ts';
import type { Queryable } from '../db/database.ts';
import { findStoredSession } from '../archive/archive-store.ts';
import { ingestBundle, type IngestAudit, type IngestDeps } from './ingest.ts';
import { acceptCheckpoint, findLiveSession, heldCheckpoints, startLiveSession } from './live-checkpoints.ts';
import { ownKeysTrustSource, type DeviceStanding, type TrustSource } from './trust.ts';
import { openUploadArea, type UploadArea } from './upload-area.ts';
import { Webhook } from '../jit/webhook.ts';

export interface IngestModuleOptions {
  /** Where bundles are stored; by default the service's (context.blobs). */
  readonly blobs?: BlobStore;
  /** The trust root to verify against; by default the service's own keys (enrollment supplies device keys). */
  readonly trustRoot?: TrustSource;
  /** Enrollment's deviceStanding: bundles and live sessions of a revoked device are refused. */
  readonly deviceStanding?: DeviceStanding;
}

const UPLOADS_PATH = '/v1/uploads';
/** The end-of-central-directory record alone (APPNOTE 4.3.16): nothing shorter is a zip. */
const EMPTY_ZIP_BYTES = 22;
const UploadParamsSchema = z.strictObject({ uploadId: z.string().regex(/^[0-9a-f]{32}$/, 'is not an upload id') });

/** A refusal inside a tus hook: @tus/server answers with its `status_code` and `body`. */
class TusRefusal extends Error {
  readonly status_code: number;
  readonly body: string;

  constructor(status: number, body: string) {
    super(body);
    this.name = 'TusRefusal';
    this.status_code = status;
    this.body = body;
  }
}

function tusError(status: number, error: string, message: string): TusRefusal {
  return new TusRefusal(status, JSON.stringify({ error, message }));
}

export function ingestModule(options: IngestModuleOptions = {}): ServiceModule {
  let tus: TusServer | undefined;
  let cleanup: NodeJS.Timeout | undefined;
  let area: UploadArea | undefined;
  let webhook: Webhook | undefined;
  return {
    name: 'ingest',
    async register(app, context) {
      const { db, config, keys, now, principalOf, audit } = context;
      const trustRoot = options.trustRoot ?? ownKeysTrustSource(keys, config.enrollment.trustRootName);
      const uploads = openUploadArea(config, { log: app.log });
      area = uploads;
      const { datastore } = uploads;
      // The Fastify request of each raw request tus handles: who is calling.
      const callers = new WeakMap<IncomingMessage, FastifyRequest>();
      const callerOf = (req: unknown): FastifyRequest => {
        const raw = (req as { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req;
        const request = raw === undefined ? undefined : callers.get(raw);
        if (request === undefined) throw tusError(500, 'internal', 'the upload request lost its caller');
        return request;
      };
      // The service's one webhook (also JIT's): a quarantined bundle is an alert.
      const hook = config.jit.webhook === undefined ? undefined : new Webhook(config.jit.webhook, app.log, now);
      webhook = hook;
      const deps: IngestDeps = {
        db,
        keys,
        blobs: options.blobs ?? context.blobs,
        trustRoot,
        deviceStanding: options.deviceStanding,
        now,
        retentionDays: config.archive.retentionDays,
        maxInflatedBytes: config.limits.recordingBytes,
        log: app.log,
        alert: hook === undefined ? undefined : (event) => hook.send([event]),
      };

      const server = new TusServer({
        path: UPLOADS_PATH,
        datastore,
        maxSize: config.limits.uploadBytes,
        relativeLocation: true,
        ...uploads.tusOptions,
        // Upload ids are ours: 32 hex digits, nothing a path could be made of.
        async onUploadCreate(req, upload) {
          const request = callerOf(req);
          const who = principalOf(request);
          if (upload.sizeIsDeferred || upload.size === undefined) throw tusError(400, 'bad-request', 'send Upload-Length: the size of the bundle is known before it is sent');
          if (upload.size < EMPTY_ZIP_BYTES) throw tusError(400, 'bad-request', `Upload-Length ${upload.size} is smaller than any bundle (a zip has at least ${EMPTY_ZIP_BYTES} bytes)`);
          const parsed = UploadMetadataSchema.safeParse(upload.metadata ?? {});
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            throw tusError(400, 'bad-request', `Upload-Metadata ${issue?.path.join('.') || ''}: ${issue?.message ?? 'is not valid'}`);
          }
          const { sessionId, sha256 } = parsed.data;
          const stored = await findStoredSession(db, sessionId);
          if (stored !== undefined && stored.owner !== who.subject) throw tusError(403, 'forbidden', `session ${sessionId} belongs to someone else`);
          if (stored !== undefined && stored.receipt.uploadedSha256 !== sha256) {
            throw tusError(409, 'conflict', `session ${sessionId} is already stored from another bundle; a stored recording is never replaced`);
          }
          const live = await findLiveSession(db, sessionId);
          if (live !== undefined && live.owner !== who.subject) throw tusError(403, 'forbidden', `session ${sessionId} belongs to someone else`);
          return { metadata: { sessionId, sha256, owner: who.subject } };
        },
        async onIncomingRequest(req, uploadId) {
          if (req.method === 'POST') return;
          const who = principalOf(callerOf(req));
          let upload: Upload;
          try {
            upload = await datastore.getUpload(uploadId);
          } catch {
            throw tusError(404, 'not-found', `upload ${uploadId} does not exist (finished uploads are removed once ingested)`);
          }
          // Another user's upload is answered as if it did not exist.
          if (upload.metadata?.['owner'] !== who.subject) throw tusError(404, 'not-found', `upload ${uploadId} does not exist`);
        },
        async onUploadFinish(req, upload) {
          const request = callerOf(req);
          const uploadId = uploads.publicId(upload.id);
          const release = await uploads.claimForIngest(upload.id);
          // An instance that just started is ingesting it (it found the upload complete).
          if (release === undefined) throw tusError(503, 'unavailable', 'the bundle arrived and another instance is ingesting it; GET /v1/sessions/:id/receipt answers once it is done');
          let outcome;
          try {
            try {
              const bytes = await uploads.readComplete(upload);
              outcome = await ingestBundle(
                deps,
                { bytes, sessionId: upload.metadata?.['sessionId'] ?? '', declaredSha256: upload.metadata?.['sha256'] ?? '', uploader: principalOf(request).subject },
                (tx, action, target, details) => audit(tx, request, action, target, { ...details, upload: uploadId }),
              );
            } catch (error) {
              // The upload stays complete where it is and is ingested again at the next start.
              request.log.error({ err: error, upload: uploadId }, 'ingest failed');
              throw tusError(503, 'unavailable', 'the bundle arrived, but the service could not finish ingesting it; it will be ingested when the service restarts, and GET /v1/sessions/:id/receipt then answers');
            }
            // Stored or quarantined, the bytes are now in the blob store: the upload is done with.
            await uploads.remove(upload.id);
          } finally {
            await release();
          }
          if (outcome.kind === 'refused') throw new TusRefusal(outcome.status, JSON.stringify(outcome.body));
          return { status_code: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(outcome.result) };
        },
      });
      tus = server;
      // Abandoned uploads (never finished) leave the disk; complete ones are never expired here.
      // In a bucket, a lifecycle rule does it (docs/architecture.md, Ingest): tus's sweep there
      // would list every multipart upload of the bucket, the recordings' too.
      if (uploads.sweepsExpired) {
        cleanup = setInterval(() => {
          server.cleanUpExpiredUploads().catch((error: unknown) => app.log.warn({ err: error }, 'ingest: could not remove expired uploads'));
        }, 3_600_000);
        cleanup.unref();
      }

      // tus reads the request body itself: leave it unread for the upload routes.
      app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));
      const handOver = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
        callers.set(request.raw, request);
        reply.hijack();
        await server.handle(request.raw, reply.raw);
      };
      const hidden = { hide: true } as const;
      for (const url of [UPLOADS_PATH, `${UPLOADS_PATH}/`]) {
        app.route({ method: 'POST', url, config: { access: ['admin'] }, schema: { ...hidden, summary: 'tus: create an upload' }, handler: handOver });
        app.route({ method: 'OPTIONS', url, config: { access: 'public' }, schema: hidden, handler: handOver });
      }
      const withId = `${UPLOADS_PATH}/:uploadId`;
      app.route({ method: ['HEAD', 'PATCH'], url: withId, config: { access: ['admin'] }, schema: { ...hidden, params: UploadParamsSchema }, handler: handOver });
      app.route({ method: 'OPTIONS', url: withId, config: { access: 'public' }, schema: { ...hidden, params: UploadParamsSchema }, handler: handOver });

      await resumePendingIngests(context, deps, uploads);

      const refuseRevoked = async (tx: Queryable, deviceKeyId: string): Promise<void> => {
        if ((await options.deviceStanding?.(tx, deviceKeyId)) === 'revoked') throw forbidden(`device key ${deviceKeyId.slice(0, 16)}… was revoked: it starts and streams no session`);
      };

      app.post(
        '/v1/sessions/:sessionId',
        {
          config: { access: ['admin'] },
          schema: {
            summary: 'Start a live session: the session key certificate its checkpoints will be signed under',
            params: SessionParamsSchema,
            body: SessionStartSchema,
            response: { 200: SessionStartedSchema, 201: SessionStartedSchema },
          },
        },
        async (request, reply) => {
          const certBytes = fromBase64(request.body.sessionKeyCert);
          if (certBytes === undefined) throw badRequest('body.sessionKeyCert is not base64');
          const deviceCertBytes = request.body.deviceCert === undefined ? undefined : fromBase64(request.body.deviceCert);
          if (request.body.deviceCert !== undefined && deviceCertBytes === undefined) throw badRequest('body.deviceCert is not base64');
          const root = await trustRoot(db);
          const { sessionId } = request.params;
          const result = await db.transaction(async (tx) => {
            const started = await startLiveSession(tx, { sessionId, owner: principalOf(request).subject, certBytes, deviceCertBytes, trustRoot: root, now: now() });
            await refuseRevoked(tx, started.session.deviceKeyId);
            if (started.created) await audit(tx, request, 'ingest.session.start', sessionId, { deviceKeyId: started.session.deviceKeyId, sessionKeyId: started.session.sessionKeyId });
            return started;
          });
          return reply
            .status(result.created ? 201 : 200)
            .send({ sessionId, sessionKeyId: result.session.sessionKeyId, deviceKeyId: result.session.deviceKeyId, checkpoints: result.held });
        },
      );

      app.get(
        '/v1/sessions/:sessionId/checkpoints',
        {
          config: { access: ['admin', 'auditor'] },
          schema: {
            summary: 'The checkpoints the service cosigned while the session ran: an auditor holds the bundle against them',
            params: SessionParamsSchema,
            response: { 200: CosignedCheckpointsSchema },
          },
        },
        async (request) => {
          const who = principalOf(request);
          const live = await findLiveSession(db, request.params.sessionId);
          // Another admin's session is answered as if it did not exist, as in the archive.
          if (live === undefined || (!who.roles.has('auditor') && live.owner !== who.subject)) throw notFound(`live session ${request.params.sessionId}`);
          const held = await heldCheckpoints(db, live.sessionId);
          return { checkpoints: held.map((h) => ({ index: h.index, size: h.size, root: h.root, time: h.time, kind: h.kind, cosigned: h.cosigned })) };
        },
      );

      app.post(
        '/v1/sessions/:sessionId/checkpoints',
        {
          config: { access: ['admin'] },
          schema: {
            summary: 'Stream one signed checkpoint; the service checks it extends the chain it holds, cosigns it and answers with the cosigned note',
            params: SessionParamsSchema,
            body: CheckpointSubmitSchema,
            response: { 200: CheckpointAckSchema, 201: CheckpointAckSchema },
          },
        },
        async (request, reply) => {
          const { sessionId } = request.params;
          const { checkpoint, created } = await db.transaction(async (tx) => {
            const live = await findLiveSession(tx, sessionId);
            if (live !== undefined) await refuseRevoked(tx, live.deviceKeyId);
            const accepted = await acceptCheckpoint(tx, { sessionId, caller: principalOf(request).subject, note: request.body.note, service: keys.service, now: now() });
            // The chain of checkpoints is itself a signed, hash-chained log; the audit log records
            // where a session's stream starts (above) and where it ends, not every keystroke's checkpoint.
            if (accepted.created && accepted.checkpoint.kind === 'seal') {
              await audit(tx, request, 'ingest.session.seal', sessionId, { index: accepted.checkpoint.index, size: accepted.checkpoint.size, root: accepted.checkpoint.root });
            }
            return accepted;
          });
          return reply.status(created ? 201 : 200).send({ index: checkpoint.index, size: checkpoint.size, cosigned: checkpoint.cosigned });
        },
      );
    },
    async close() {
      if (cleanup !== undefined) clearInterval(cleanup);
      tus?.removeAllListeners();
      await area?.close();
      await webhook?.close();
    },
  };
}

/**
 * Uploads whose last byte arrived but whose ingest did not finish (the service stopped in
 * between): ingest them now, as the service, so that no complete upload is left unjudged. With
 * several instances, each upload is claimed first: one instance ingests it.
 */
async function resumePendingIngests(context: ServiceContext, deps: IngestDeps, uploads: UploadArea): Promise<void> {
  for (const id of await uploads.candidatesForIngest()) {
    let upload: Upload;
    try {
      upload = await uploads.datastore.getUpload(id);
    } catch {
      continue;
    }
    if (upload.size === undefined || upload.offset !== upload.size) continue;
    const release = await uploads.claimForIngest(id);
    if (release === undefined) continue;
    try {
      const uploadId = uploads.publicId(id);
      const uploader = upload.metadata?.['owner'] ?? 'unknown';
      const auditAs: IngestAudit = (tx, action, target, details) => appendAudit(tx, { actor: 'system', action, target, details: { ...details, upload: uploadId, uploader } }, context.now());
      let bytes: Uint8Array;
      try {
        bytes = await uploads.readComplete(upload);
      } catch {
        // Another instance ingested and removed it between the listing and the claim.
        continue;
      }
      const outcome = await ingestBundle(deps, { bytes, sessionId: upload.metadata?.['sessionId'] ?? '', declaredSha256: upload.metadata?.['sha256'] ?? '', uploader }, auditAs);
      deps.log.info({ upload: uploadId, outcome: outcome.kind }, 'ingest: finished an upload that completed before the service stopped');
      await uploads.remove(id);
    } finally {
      await release();
    }
  }
}
