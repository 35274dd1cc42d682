/**
 * The JIT API (/v1/jit/…): targets, policies, requests and reviews, live events. One module
 * instance per running service: it owns the event fan-out, the open streams and the sweeper,
 * and `close()` stops them.
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  AccessRequestSchema,
  CloseRequestSchema,
  CreatePolicySchema,
  CreateRequestSchema,
  CreateTargetSchema,
  DryRunRequestSchema,
  DryRunSchema,
  EventStreamQuerySchema,
  EventTicketSchema,
  InboxSchema,
  PolicyIdParamsSchema,
  PolicyListSchema,
  PolicySchema,
  RequestIdParamsSchema,
  RequestListQuerySchema,
  RequestListSchema,
  ReviewRequestSchema,
  RevokeRequestSchema,
  TargetIdParamsSchema,
  TargetListSchema,
  TargetQuerySchema,
  TargetSchema,
  UpdatePolicySchema,
  UpdateTargetSchema,
} from '../../shared/api/jit.ts';
import { AccessTokenVerifier, type Principal } from '../auth/access-token.ts';
import type { ServiceContext, ServiceModule } from '../http/context.ts';
import { badRequest, notFound } from '../http/errors.ts';
import { InProcessFanout, PostgresFanout, type EventFanout } from './events.ts';
import { issueTicket, LiveStreams, redeemTicket } from './live.ts';
import { createPolicy, listPolicies, policyFor, policyVersions, updatePolicy } from './policies.ts';
import { AccessRequests, type AuditCall } from './requests.ts';
import { createTarget, getTarget, listTargets, updateTarget, type Target } from './targets.ts';
import { Webhook } from './webhook.ts';

const OVERSEERS = ['service-admin', 'auditor'] as const;

export function jitModule(): ServiceModule {
  let fanout: EventFanout | undefined;
  let streams: LiveStreams | undefined;
  let webhook: Webhook | undefined;
  let sweeper: NodeJS.Timeout | undefined;

  const stop = async (): Promise<void> => {
    clearInterval(sweeper);
    sweeper = undefined;
    streams?.close();
    await webhook?.close();
    await fanout?.close();
  };

  return {
    name: 'jit',
    close: stop,
    async register(app, context) {
      const { db, now, config, principalOf } = context;
      fanout = config.database.kind === 'postgres' ? await PostgresFanout.start(config.database.url) : await InProcessFanout.start(db);
      webhook = config.jit.webhook === undefined ? undefined : new Webhook(config.jit.webhook, app.log, now);
      const hook = webhook;
      const lifecycle = new AccessRequests({ db, now, config: config.jit, fanout, committed: (events) => hook?.send(events) });
      const live = new LiveStreams({ db, fanout, now, bufferSize: config.jit.eventBuffer, heartbeatMs: config.jit.heartbeatMs });
      streams = live;
      // The stream route cannot rely on the shared access check (it also takes tickets).
      const tokens = new AccessTokenVerifier({ ...config.auth, now });

      let sweeping = false;
      sweeper = setInterval(() => {
        if (sweeping) return;
        sweeping = true;
        lifecycle
          .sweep()
          .catch((error: unknown) => app.log.error({ err: error }, 'JIT sweeper failed'))
          .finally(() => (sweeping = false));
      }, config.jit.sweepIntervalMs);
      sweeper.unref();
      // Open streams would hold the server open: end them before it stops listening.
      app.addHook('preClose', async () => live.close());

      app.addHook('preHandler', async (request) => {
        if (request.principal === null) return;
        await lifecycle.seeUser(request.principal).catch((error: unknown) => request.log.warn({ err: error }, 'could not record the user as seen'));
      });

      const auditOf =
        (request: FastifyRequest): AuditCall =>
        (tx, action, target, details) =>
          context.audit(tx, request, action, target, details);

      registerTargets(app, context);
      registerPolicies(app, context);

      app.post(
        '/v1/jit/requests/dry-run',
        { config: { access: 'signed-in' }, schema: { summary: 'What a request would meet: limits, approvals, suggested reviewers', body: DryRunRequestSchema, response: { 200: DryRunSchema } } },
        async (request) => lifecycle.dryRun(principalOf(request), request.body),
      );
      app.post(
        '/v1/jit/requests',
        // Who may ask is the policy's requester groups (an on-call approver may, too).
        { config: { access: 'signed-in' }, schema: { summary: 'File an access request (or open a break-glass grant)', body: CreateRequestSchema, response: { 201: AccessRequestSchema } } },
        async (request, reply) => reply.status(201).send(await lifecycle.create(principalOf(request), request.body, auditOf(request))),
      );
      app.get(
        '/v1/jit/requests',
        { config: { access: 'signed-in' }, schema: { summary: 'Your own requests, newest first', querystring: RequestListQuerySchema, response: { 200: RequestListSchema } } },
        async (request) => ({ requests: await lifecycle.mine(principalOf(request), request.query.state, request.query.limit) }),
      );
      app.get(
        '/v1/jit/inbox',
        { config: { access: ['approver'] }, schema: { summary: 'Requests you may decide, and break-glass grants awaiting review', response: { 200: InboxSchema } } },
        async (request) => lifecycle.inbox(principalOf(request)),
      );
      app.get(
        '/v1/jit/requests/:id',
        { config: { access: 'signed-in' }, schema: { summary: 'One request with its reviews and time remaining', params: RequestIdParamsSchema, response: { 200: AccessRequestSchema } } },
        async (request) => lifecycle.detail(principalOf(request), request.params.id),
      );
      app.post(
        '/v1/jit/requests/:id/reviews',
        {
          config: { access: ['approver'] },
          schema: { summary: 'Approve or deny a pending request, or review a break-glass grant', params: RequestIdParamsSchema, body: ReviewRequestSchema, response: { 200: AccessRequestSchema } },
        },
        async (request) => lifecycle.review(principalOf(request), request.params.id, request.body.decision, request.body.reason, auditOf(request)),
      );
      app.post(
        '/v1/jit/requests/:id/start',
        { config: { access: 'signed-in' }, schema: { summary: 'Start your approved grant: its time runs from now', params: RequestIdParamsSchema, response: { 200: AccessRequestSchema } } },
        async (request) => lifecycle.start(principalOf(request), request.params.id, auditOf(request)),
      );
      // The requester's own two ways out, each with an optional reason.
      for (const [step, summary] of [
        ['cancel', 'Withdraw your pending request'],
        ['end', 'Drop your active grant before its end'],
      ] as const) {
        app.post(
          `/v1/jit/requests/:id/${step}`,
          { config: { access: 'signed-in' }, schema: { summary, params: RequestIdParamsSchema, body: CloseRequestSchema, response: { 200: AccessRequestSchema } } },
          async (request) => lifecycle[step](principalOf(request), request.params.id, request.body.reason, auditOf(request)),
        );
      }
      app.post(
        '/v1/jit/requests/:id/revoke',
        {
          config: { access: ['approver', 'service-admin'] },
          schema: { summary: "Revoke someone's active grant", params: RequestIdParamsSchema, body: RevokeRequestSchema, response: { 200: AccessRequestSchema } },
        },
        async (request) => lifecycle.revoke(principalOf(request), request.params.id, request.body.reason, auditOf(request)),
      );

      app.post(
        '/v1/jit/events/ticket',
        { config: { access: 'signed-in' }, schema: { summary: 'A one-time ticket (60 s) to open the event stream where headers cannot be set', response: { 200: EventTicketSchema } } },
        async (request) => issueTicket(db, principalOf(request), now()),
      );
      app.get(
        '/v1/jit/events',
        {
          // Checked here: a bearer token, or ?ticket= from POST /v1/jit/events/ticket.
          config: { access: 'public' },
          schema: {
            summary: 'Live JIT events (text/event-stream); Authorization: Bearer, or ?ticket=',
            querystring: EventStreamQuerySchema,
            headers: z.looseObject({ 'last-event-id': z.string().regex(/^[0-9]{1,15}$/, 'must be an event id (a number)').optional() }),
          },
        },
        async (request, reply) => {
          const who: Principal = request.query.ticket !== undefined ? await redeemTicket(db, request.query.ticket, now()) : await tokens.verifyHeader(request.headers.authorization);
          const header = request.headers['last-event-id'];
          const lastEventId = header !== undefined ? Number(header) : request.query.lastEventId;
          reply.hijack();
          await live.open(who, reply.raw, lastEventId);
        },
      );
    },
  };
}

function targetBody(target: Target, who: Principal, policies: Awaited<ReturnType<typeof listPolicies>>): z.infer<typeof TargetSchema> {
  const choice = policyFor(policies, target, who.groups);
  return { ...target, principals: [...target.principals], labels: [...target.labels], access: { request: choice.request !== undefined && !target.disabled, breakGlass: choice.breakGlass !== undefined && !target.disabled } };
}

function registerTargets(app: Parameters<ServiceModule['register']>[0], context: ServiceContext): void {
  const { db, now, principalOf } = context;
  app.get(
    '/v1/jit/targets',
    {
      config: { access: 'signed-in' },
      schema: { summary: 'Targets: all for service admins and auditors; for others, those policy lets them request', querystring: TargetQuerySchema, response: { 200: TargetListSchema } },
    },
    async (request) => {
      const who = principalOf(request);
      const policies = await listPolicies(db);
      const all = OVERSEERS.some((role) => who.roles.has(role));
      const targets = (await listTargets(db, request.query)).map((t) => targetBody(t, who, policies));
      return { targets: all ? targets : targets.filter((t) => t.access.request || t.access.breakGlass) };
    },
  );
  app.get(
    '/v1/jit/targets/:id',
    { config: { access: 'signed-in' }, schema: { summary: 'One target', params: TargetIdParamsSchema, response: { 200: TargetSchema } } },
    async (request) => {
      const who = principalOf(request);
      const target = await getTarget(db, request.params.id);
      if (target === undefined) throw notFound(`target ${request.params.id}`);
      const body = targetBody(target, who, await listPolicies(db));
      // Someone who may not ask for it learns nothing of it.
      if (!OVERSEERS.some((role) => who.roles.has(role)) && !body.access.request && !body.access.breakGlass) throw notFound(`target ${request.params.id}`);
      return body;
    },
  );
  app.post(
    '/v1/jit/targets',
    { config: { access: ['service-admin'] }, schema: { summary: 'Add a target', body: CreateTargetSchema, response: { 201: TargetSchema } } },
    async (request, reply) => {
      const target = await db.transaction(async (tx) => {
        const created = await createTarget(tx, request.body, now());
        await context.audit(tx, request, 'jit.target.create', created.id, { name: created.name, host: created.host, port: created.port, environment: created.environment });
        return created;
      });
      return reply.status(201).send(targetBody(target, principalOf(request), await listPolicies(db)));
    },
  );
  app.patch(
    '/v1/jit/targets/:id',
    { config: { access: ['service-admin'] }, schema: { summary: 'Change or disable a target', params: TargetIdParamsSchema, body: UpdateTargetSchema, response: { 200: TargetSchema } } },
    async (request) => {
      if (Object.keys(request.body).length === 0) throw badRequest('the body names nothing to change');
      const { after } = await db.transaction(async (tx) => {
        const change = await updateTarget(tx, request.params.id, request.body, now());
        await context.audit(tx, request, request.body.disabled === true ? 'jit.target.disable' : 'jit.target.update', request.params.id, { change: request.body });
        return change;
      });
      return targetBody(after, principalOf(request), await listPolicies(db));
    },
  );
}

function registerPolicies(app: Parameters<ServiceModule['register']>[0], context: ServiceContext): void {
  const { db, now, principalOf } = context;
  app.get(
    '/v1/jit/policies',
    { config: { access: ['service-admin', 'auditor', 'approver'] }, schema: { summary: 'Current access policies', response: { 200: PolicyListSchema } } },
    async () => ({ policies: await listPolicies(db) }),
  );
  app.get(
    '/v1/jit/policies/:id/versions',
    { config: { access: ['service-admin', 'auditor'] }, schema: { summary: 'Every version of a policy', params: PolicyIdParamsSchema, response: { 200: PolicyListSchema } } },
    async (request) => {
      const policies = await policyVersions(db, request.params.id);
      if (policies.length === 0) throw notFound(`policy ${request.params.id}`);
      return { policies };
    },
  );
  app.post(
    '/v1/jit/policies',
    { config: { access: ['service-admin'] }, schema: { summary: 'Add an access policy', body: CreatePolicySchema, response: { 201: PolicySchema } } },
    async (request, reply) =>
      reply.status(201).send(
        await db.transaction(async (tx) => {
          const policy = await createPolicy(tx, request.body.id, request.body.rules, principalOf(request).subject, now());
          await context.audit(tx, request, 'jit.policy.create', policy.id, { version: policy.version, rules: policy.rules });
          return policy;
        }),
      ),
  );
  app.put(
    '/v1/jit/policies/:id',
    { config: { access: ['service-admin'] }, schema: { summary: 'Save a new version of a policy', params: PolicyIdParamsSchema, body: UpdatePolicySchema, response: { 200: PolicySchema } } },
    async (request) =>
      db.transaction(async (tx) => {
        const policy = await updatePolicy(tx, request.params.id, request.body.version, request.body.rules, principalOf(request).subject, now());
        await context.audit(tx, request, 'jit.policy.update', policy.id, { version: policy.version, rules: policy.rules });
        return policy;
      }),
  );
}
