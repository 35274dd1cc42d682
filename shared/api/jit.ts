/**
 * Just-in-time access as the service serves it (server/jit/): the targets inventory, access
 * policies, requests and their reviews, and the live-update events. The desktop client parses
 * answers with the same schemas.
 *
 * Times are milliseconds since the epoch on the server's clock; durations are minutes.
 */
import { z } from 'zod';

export const ENVIRONMENTS = ['prod', 'staging', 'dev'] as const;
export const EnvironmentSchema = z.enum(ENVIRONMENTS);
export type Environment = z.infer<typeof EnvironmentSchema>;

/** Ids are ours: a prefix and 20 lower-case letters or digits, nothing a path could misread. */
const idOf = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[a-z0-9]{20}$`), `must be an id like ${prefix}_ followed by 20 of a-z 0-9`);
export const TargetIdSchema = idOf('tg');
export const RequestIdSchema = idOf('jr');
export const PolicyIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 of a-z 0-9 - (not starting with -)');

/** RFC 1123 host names, IPv4 dotted quads and bracket-free IPv6 literals. */
const HOSTNAME = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
export const HostSchema = z
  .string()
  .min(1)
  .max(253)
  .refine((host) => z.ipv4().safeParse(host).success || z.ipv6().safeParse(host).success || (HOSTNAME.test(host) && !/^[0-9.]+$/.test(host)), 'must be a host name, an IPv4 or an IPv6 address');
/** A Unix login name, as OpenSSH certificate principals name them. */
export const PrincipalNameSchema = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a login name: a-z or _ then up to 31 of a-z 0-9 _ -');
export const LabelSchema = z.string().regex(/^[a-z0-9][a-z0-9._:-]{0,62}$/, 'must be 1-63 of a-z 0-9 . _ : - (not starting with punctuation)');
export const GroupSchema = z.string().min(1).max(200);

export const TargetSchema = z.strictObject({
  id: TargetIdSchema,
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  principals: z.array(z.string()),
  labels: z.array(z.string()),
  environment: EnvironmentSchema,
  disabled: z.boolean(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  /** For the caller: may they file a request, or a break-glass one? */
  access: z.strictObject({ request: z.boolean(), breakGlass: z.boolean() }),
});
export type TargetBody = z.infer<typeof TargetSchema>;

const TargetNameSchema = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,99}$/, 'must be 1-100 of A-Z a-z 0-9 space . _ : - (not starting with punctuation)');
const uniqueList = <T extends z.ZodType<string>>(item: T, max: number) =>
  z
    .array(item)
    .max(max)
    .refine((list) => new Set(list).size === list.length, 'must not repeat an entry');

export const CreateTargetSchema = z.strictObject({
  name: TargetNameSchema,
  host: HostSchema,
  port: z.number().int().min(1).max(65535).default(22),
  principals: uniqueList(PrincipalNameSchema, 32).min(1, 'must name at least one principal'),
  labels: uniqueList(LabelSchema, 32).default([]),
  environment: EnvironmentSchema,
});
export const UpdateTargetSchema = z.strictObject({
  name: TargetNameSchema.optional(),
  host: HostSchema.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  principals: uniqueList(PrincipalNameSchema, 32).min(1, 'must name at least one principal').optional(),
  labels: uniqueList(LabelSchema, 32).optional(),
  environment: EnvironmentSchema.optional(),
  disabled: z.boolean().optional(),
});
export const TargetQuerySchema = z.strictObject({
  q: z.string().max(100).optional(),
  environment: EnvironmentSchema.optional(),
  label: LabelSchema.optional(),
});
export const TargetListSchema = z.strictObject({ targets: z.array(TargetSchema) });

/**
 * An access policy. It applies to the targets it matches (an environment, a label, both, or
 * neither: every target); of the policies matching a target, the one with the lowest `priority`
 * that lets the caller request (or break glass) decides.
 */
export const PolicyRulesSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    priority: z.number().int().min(0).max(1_000_000).default(100),
    enabled: z.boolean().default(true),
    match: z.strictObject({ environment: EnvironmentSchema.optional(), label: LabelSchema.optional() }).default({}),
    requesterGroups: uniqueList(GroupSchema, 50).default([]),
    approverGroups: uniqueList(GroupSchema, 50).min(1, 'must name at least one approver group'),
    approvalsRequired: z.number().int().min(1).max(10).default(1),
    maxDurationMinutes: z.number().int().min(1).max(7 * 24 * 60),
    reasonRequired: z.boolean().default(true),
    ticketRequired: z.boolean().default(false),
    /** A full-match pattern (RE2 syntax, linear time) a ticket must follow, e.g. `[A-Z]+-[0-9]+`. */
    ticketPattern: z.string().min(1).max(200).optional(),
    /** Requests from these groups are approved at once (on-call). */
    autoApproveGroups: uniqueList(GroupSchema, 50).default([]),
    /** These groups may open a break-glass grant: active at once, reviewed afterwards. */
    breakGlassGroups: uniqueList(GroupSchema, 50).default([]),
  });
export type PolicyRules = z.infer<typeof PolicyRulesSchema>;

export const PolicySchema = z.strictObject({
  id: PolicyIdSchema,
  version: z.number().int().positive(),
  updatedAt: z.number().int(),
  updatedBy: z.string(),
  rules: PolicyRulesSchema,
});
export type PolicyBody = z.infer<typeof PolicySchema>;
export const CreatePolicySchema = z.strictObject({ id: PolicyIdSchema, rules: PolicyRulesSchema });
/** A new version; `version` is the one the editor read (a stale edit is refused, 409). */
export const UpdatePolicySchema = z.strictObject({ version: z.number().int().positive(), rules: PolicyRulesSchema });
export const PolicyListSchema = z.strictObject({ policies: z.array(PolicySchema) });

export const REQUEST_STATES = ['PENDING', 'APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED', 'ACTIVE', 'ENDED', 'REVOKED'] as const;
export const RequestStateSchema = z.enum(REQUEST_STATES);
export type RequestState = z.infer<typeof RequestStateSchema>;

export const DecisionSchema = z.enum(['approve', 'deny']);
export const ReasonSchema = z.string().trim().min(1, 'must not be empty').max(1000);

export const ReviewSchema = z.strictObject({
  reviewer: z.string(),
  reviewerName: z.string().nullable(),
  /** `approval`: a decision on a pending request; `post-hoc`: the review a break-glass grant needs. */
  kind: z.enum(['approval', 'post-hoc']),
  decision: DecisionSchema,
  reason: z.string(),
  at: z.number().int(),
});

export const AccessRequestSchema = z.strictObject({
  id: RequestIdSchema,
  requester: z.string(),
  requesterName: z.string().nullable(),
  target: z.strictObject({ id: TargetIdSchema, name: z.string(), host: z.string(), port: z.number().int(), environment: EnvironmentSchema }),
  principal: z.string(),
  reason: z.string().nullable(),
  ticket: z.string().nullable(),
  durationMinutes: z.number().int(),
  state: RequestStateSchema,
  breakGlass: z.boolean(),
  autoApproved: z.boolean(),
  policy: z.strictObject({ id: z.string(), version: z.number().int() }),
  approvalsRequired: z.number().int(),
  approvals: z.number().int(),
  createdAt: z.number().int(),
  /** PENDING: when it expires undecided; APPROVED: when it expires unstarted. */
  expiresAt: z.number().int().nullable(),
  decidedAt: z.number().int().nullable(),
  startedAt: z.number().int().nullable(),
  endsAt: z.number().int().nullable(),
  closedAt: z.number().int().nullable(),
  closedBy: z.string().nullable(),
  closeReason: z.string().nullable(),
  /** Break-glass: true until an approver has reviewed it. */
  reviewNeeded: z.boolean(),
  /** Until the next deadline (expiry or end), on the server clock; null when none is ahead. */
  remainingMs: z.number().int().nullable(),
  reviews: z.array(ReviewSchema),
});
export type AccessRequestBody = z.infer<typeof AccessRequestSchema>;

export const CreateRequestSchema = z.strictObject({
  targetId: TargetIdSchema,
  principal: PrincipalNameSchema,
  durationMinutes: z.number().int().min(1).max(7 * 24 * 60),
  reason: z.string().trim().max(1000).optional(),
  ticket: z.string().trim().max(100).optional(),
  breakGlass: z.boolean().default(false),
});
export type CreateRequestBody = z.input<typeof CreateRequestSchema>;
/** A dry run asks about a target; the rest is optional and checked when given. */
export const DryRunRequestSchema = CreateRequestSchema.partial({ principal: true, durationMinutes: true });

export const SuggestedReviewerSchema = z.strictObject({ subject: z.string(), name: z.string().nullable(), email: z.string().nullable(), lastSeen: z.number().int() });

/** What a request would meet, before it is filed. `problems` lists what would refuse it as asked. */
export const DryRunSchema = z.strictObject({
  allowed: z.boolean(),
  problems: z.array(z.string()),
  policy: z.strictObject({ id: z.string(), version: z.number().int(), name: z.string() }).nullable(),
  limits: z
    .strictObject({
      maxDurationMinutes: z.number().int(),
      reasonRequired: z.boolean(),
      ticketRequired: z.boolean(),
      ticketPattern: z.string().nullable(),
      approvalsRequired: z.number().int(),
      autoApprove: z.boolean(),
      breakGlassAllowed: z.boolean(),
      principals: z.array(z.string()),
    })
    .nullable(),
  suggestedReviewers: z.array(SuggestedReviewerSchema),
});
export type DryRunBody = z.infer<typeof DryRunSchema>;

export const RequestListQuerySchema = z.strictObject({
  state: RequestStateSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const RequestListSchema = z.strictObject({ requests: z.array(AccessRequestSchema) });
export const InboxSchema = z.strictObject({
  /** Pending requests the caller may decide (never their own). */
  pending: z.array(AccessRequestSchema),
  /** Break-glass grants that still need the review of someone like the caller. */
  toReview: z.array(AccessRequestSchema),
});

export const ReviewRequestSchema = z.strictObject({ decision: DecisionSchema, reason: ReasonSchema });
export const CloseRequestSchema = z.strictObject({ reason: ReasonSchema.optional() });
export const RevokeRequestSchema = z.strictObject({ reason: ReasonSchema });
export const RequestIdParamsSchema = z.strictObject({ id: RequestIdSchema });
export const TargetIdParamsSchema = z.strictObject({ id: TargetIdSchema });
export const PolicyIdParamsSchema = z.strictObject({ id: PolicyIdSchema });

/** One live update. `seq` increases by one per event, service-wide; it is the SSE event id. */
export const JIT_EVENT_TYPES = [
  'request.created',
  'request.reviewed',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.expired',
  'grant.started',
  'grant.ended',
  'grant.revoked',
  'break-glass.opened',
  'break-glass.reviewed',
] as const;
export const JitEventSchema = z.strictObject({
  seq: z.number().int().positive(),
  type: z.enum(JIT_EVENT_TYPES),
  requestId: RequestIdSchema,
  state: RequestStateSchema,
  requester: z.string(),
  target: z.string(),
  breakGlass: z.boolean(),
  at: z.number().int(),
});
export type JitEventBody = z.infer<typeof JitEventSchema>;

export const EventTicketSchema = z.strictObject({ ticket: z.string(), expiresAt: z.number().int() });
export const EventStreamQuerySchema = z.strictObject({
  ticket: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a ticket from POST /v1/jit/events/ticket').optional(),
  /** The same as the Last-Event-ID header, for clients that cannot set it. */
  lastEventId: z.coerce.number().int().min(0).optional(),
});

/** The SSE event names besides the default (a JIT event in `data`). */
export const SSE_RESYNC = 'resync';
export const SSE_EXPIRED = 'expired';
