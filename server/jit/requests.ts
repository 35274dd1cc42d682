/**
 * Access requests and grants: the lifecycle, enforced on the server's clock.
 *
 *   PENDING → APPROVED | DENIED | EXPIRED | CANCELLED
 *   APPROVED → ACTIVE | EXPIRED (not started in time)
 *   ACTIVE → ENDED (its end time, or dropped by the requester) | REVOKED
 *   break-glass: → ACTIVE at once, with a review owed afterwards
 *
 * Every change takes the request's lock, reads it again, settles a due expiry first, and
 * commits together with its audit entry and its numbered event. A refusal found after a due
 * expiry was settled still commits the expiry (the refusal is thrown after commit).
 *
 * Expiries are settled lazily (every read and change looks at the deadlines) and by the sweeper
 * (`sweep`), so the stored state is right whether or not anyone reads.
 */
import type { z } from 'zod';
import type { AccessRequestBody, CreateRequestSchema, DryRunBody, DryRunRequestSchema, JitEventBody, RequestState } from '../../shared/api/jit.ts';
import { appendAudit } from '../audit/audit-log.ts';
import type { Principal } from '../auth/access-token.ts';
import type { Database, Queryable } from '../db/database.ts';
import { badRequest, conflict, forbidden, HttpError, notFound } from '../http/errors.ts';
import type { JitConfig } from './config.ts';
import { nextEventSeq, type EventFanout, type JitEvent } from './events.ts';
import { autoApproves, intersects, listPolicies, policyFor, ticketMatches, type Policy } from './policies.ts';
import { getTarget, newId, type Target } from './targets.ts';

/** Records an audit entry for the caller within the change's transaction. */
export type AuditCall = (tx: Queryable, action: string, target: string, details?: Record<string, unknown>) => Promise<unknown>;

interface RequestRow {
  id: string;
  requester: string;
  requester_name: string | null;
  target_id: string;
  principal: string;
  reason: string | null;
  ticket: string | null;
  duration_minutes: number;
  state: RequestState;
  break_glass: number;
  auto_approved: number;
  policy_id: string;
  policy_version: number;
  approvals_required: number;
  approver_groups: string;
  created_at: number;
  expires_at: number | null;
  decided_at: number | null;
  started_at: number | null;
  ends_at: number | null;
  closed_at: number | null;
  closed_by: string | null;
  close_reason: string | null;
  review_needed: number;
  target_name: string;
  target_host: string;
  target_port: number;
  target_environment: Target['environment'];
}

interface ReviewRow {
  request_id: string;
  kind: 'approval' | 'post-hoc';
  reviewer: string;
  reviewer_name: string | null;
  decision: 'approve' | 'deny';
  reason: string;
  at: number;
}

const SELECT_REQUEST = `SELECT r.*, t.name AS target_name, t.host AS target_host, t.port AS target_port, t.environment AS target_environment
  FROM jit_requests r JOIN jit_targets t ON t.id = r.target_id`;

const MINUTE = 60_000;
const SUGGESTED_REVIEWERS = 10;
/** A user's row in jit_users is written again only when their groups change or after this. */
const SEEN_REFRESH_MS = 60_000;

const approverGroupsOf = (row: RequestRow): string[] => JSON.parse(row.approver_groups) as string[];

/** The transition a request's deadlines make due at `now`, if any. */
function dueAt(row: RequestRow, now: number): { to: RequestState; type: JitEventBody['type'] } | undefined {
  if ((row.state === 'PENDING' || row.state === 'APPROVED') && row.expires_at !== null && now >= Number(row.expires_at)) return { to: 'EXPIRED', type: 'request.expired' };
  if (row.state === 'ACTIVE' && row.ends_at !== null && now >= Number(row.ends_at)) return { to: 'ENDED', type: 'grant.ended' };
  return undefined;
}

type Emit = (type: JitEventBody['type'], row: RequestRow, state: RequestState) => Promise<void>;

export interface AccessRequestsOptions {
  readonly db: Database;
  readonly now: () => number;
  readonly config: JitConfig;
  readonly fanout: EventFanout;
  /** After a change committed, with its events (the webhook). */
  readonly committed?: (events: readonly JitEventBody[]) => void;
}

export class AccessRequests {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #config: JitConfig;
  readonly #fanout: EventFanout;
  readonly #committed: (events: readonly JitEventBody[]) => void;
  readonly #seen = new Map<string, { at: number; groups: string }>();

  constructor(options: AccessRequestsOptions) {
    this.#db = options.db;
    this.#now = options.now;
    this.#config = options.config;
    this.#fanout = options.fanout;
    this.#committed = options.committed ?? (() => undefined);
  }

  /** Runs a change; a returned HttpError is thrown after the commit (a settled expiry stays). */
  async #change<T>(body: (tx: Queryable, emit: Emit) => Promise<T | HttpError>): Promise<T> {
    let staged: JitEvent[] = [];
    const result = await this.#db.transaction(async (tx) => {
      staged = [];
      return body(tx, async (type, row, state) => {
        const event: JitEvent = {
          seq: await nextEventSeq(tx),
          type,
          requestId: row.id,
          state,
          requester: row.requester,
          target: row.target_name,
          breakGlass: Number(row.break_glass) === 1,
          at: this.#now(),
          approverGroups: approverGroupsOf(row),
        };
        await this.#fanout.stage(tx, event);
        staged.push(event);
      });
    });
    if (staged.length > 0) {
      this.#fanout.committed(staged);
      this.#committed(staged.map(({ approverGroups: _, ...body }) => body));
    }
    if (result instanceof HttpError) throw result;
    return result;
  }

  async #read(db: Queryable, id: string): Promise<RequestRow | undefined> {
    return db.get<RequestRow>(`${SELECT_REQUEST} WHERE r.id = ?`, [id]);
  }

  /** Locks the request, reads it, and settles a due expiry (audited as the service's own act). */
  async #lockAndRead(tx: Queryable, id: string, now: number, emit: Emit): Promise<RequestRow | undefined> {
    await tx.lock(`jit-request:${id}`);
    const row = await this.#read(tx, id);
    if (row === undefined) return undefined;
    const due = dueAt(row, now);
    if (due === undefined) return row;
    // The deadline, not the moment someone noticed, is when it happened.
    const at = due.to === 'EXPIRED' ? Number(row.expires_at) : Number(row.ends_at);
    await tx.run('UPDATE jit_requests SET state = ?, closed_at = ?, closed_by = ? WHERE id = ? AND state = ?', [due.to, at, 'system', id, row.state]);
    await appendAudit(tx, { actor: 'system', action: due.to === 'EXPIRED' ? 'jit.request.expire' : 'jit.grant.end', target: id, details: { from: row.state, at } }, now);
    const settled: RequestRow = { ...row, state: due.to, closed_at: at, closed_by: 'system' };
    await emit(due.type, settled, due.to);
    return settled;
  }

  /** Settles every due expiry; returns how many. */
  async sweep(): Promise<number> {
    const now = this.#now();
    const due = await this.#db.all<{ id: string }>(
      "SELECT id FROM jit_requests WHERE (state IN ('PENDING', 'APPROVED') AND expires_at <= ?) OR (state = 'ACTIVE' AND ends_at <= ?) ORDER BY id LIMIT 1000",
      [now, now],
    );
    for (const { id } of due) await this.#change(async (tx, emit) => void (await this.#lockAndRead(tx, id, now, emit)));
    await this.#db.run('DELETE FROM jit_event_tickets WHERE expires_at <= ?', [now]);
    return due.length;
  }

  /** Keeps the small table of users seen (suggested reviewers come from it). */
  async seeUser(who: Principal): Promise<void> {
    const now = this.#now();
    const groups = JSON.stringify([...who.groups].sort());
    const last = this.#seen.get(who.subject);
    if (last !== undefined && last.groups === groups && now - last.at < SEEN_REFRESH_MS) return;
    this.#seen.set(who.subject, { at: now, groups });
    await this.#db.run(
      'INSERT INTO jit_users (subject, name, email, groups, last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject) DO UPDATE SET name = excluded.name, email = excluded.email, groups = excluded.groups, last_seen = excluded.last_seen',
      [who.subject, who.name ?? null, who.email ?? null, groups, now],
    );
  }

  /**
   * What a request from `who` would meet: the policy, its limits, and every reason it would be
   * refused as given. `create` refuses with the first of `problems`.
   */
  async #evaluate(
    db: Queryable,
    who: Principal,
    input: z.output<typeof DryRunRequestSchema>,
    /** A dry run leaves out what is missing (the limits say it is needed) and checks what is given. */
    dryRun = false,
  ): Promise<{ target: Target | undefined; policy: Policy | undefined; problems: HttpError[]; autoApprove: boolean; breakGlassAllowed: boolean }> {
    const target = await getTarget(db, input.targetId);
    if (target === undefined) return { target, policy: undefined, problems: [notFound(`target ${input.targetId}`)], autoApprove: false, breakGlassAllowed: false };
    const choice = policyFor(await listPolicies(db), target, who.groups);
    const policy = input.breakGlass ? choice.breakGlass : choice.request;
    const problems: HttpError[] = [];
    if (target.disabled) problems.push(conflict(`target ${target.name} is disabled: it takes no new requests`));
    if (policy === undefined) {
      problems.push(forbidden(input.breakGlass ? `no policy lets your groups break glass on ${target.name}` : `no policy lets your groups request access to ${target.name}`));
      return { target, policy, problems, autoApprove: false, breakGlassAllowed: choice.breakGlass !== undefined };
    }
    const rules = policy.rules;
    if (input.principal !== undefined && !target.principals.includes(input.principal)) {
      problems.push(badRequest(`principal ${input.principal} is not one of ${target.name}'s: ${target.principals.join(', ')}`));
    }
    if (input.durationMinutes !== undefined && input.durationMinutes > rules.maxDurationMinutes) {
      problems.push(badRequest(`${input.durationMinutes} minutes is longer than policy ${policy.id} allows (${rules.maxDurationMinutes})`));
    }
    if (!dryRun && (rules.reasonRequired || input.breakGlass) && !input.reason) problems.push(badRequest(`policy ${policy.id} requires a reason${input.breakGlass ? ' (break-glass always does)' : ''}`));
    if (!dryRun && rules.ticketRequired && !input.ticket) problems.push(badRequest(`policy ${policy.id} requires a ticket${rules.ticketPattern === undefined ? '' : ` matching ${rules.ticketPattern}`}`));
    if (input.ticket && rules.ticketPattern !== undefined && !ticketMatches(rules.ticketPattern, input.ticket)) {
      problems.push(badRequest(`ticket ${JSON.stringify(input.ticket)} does not match policy ${policy.id}'s pattern ${rules.ticketPattern}`));
    }
    return { target, policy, problems, autoApprove: !input.breakGlass && autoApproves(policy, who.groups), breakGlassAllowed: choice.breakGlass !== undefined };
  }

  async dryRun(who: Principal, input: z.output<typeof DryRunRequestSchema>): Promise<DryRunBody> {
    const { target, policy, problems, autoApprove, breakGlassAllowed } = await this.#evaluate(this.#db, who, input, true);
    const suggested =
      policy === undefined
        ? []
        : (await this.#db.all<{ subject: string; name: string | null; email: string | null; groups: string; last_seen: number }>(
            'SELECT subject, name, email, groups, last_seen FROM jit_users WHERE subject <> ? ORDER BY last_seen DESC, subject LIMIT 500',
            [who.subject],
          ))
            .filter((u) => intersects(JSON.parse(u.groups) as string[], policy.rules.approverGroups))
            .slice(0, SUGGESTED_REVIEWERS)
            .map((u) => ({ subject: u.subject, name: u.name, email: u.email, lastSeen: Number(u.last_seen) }));
    return {
      allowed: problems.length === 0,
      problems: problems.map((p) => p.message),
      policy: policy === undefined ? null : { id: policy.id, version: policy.version, name: policy.rules.name },
      limits:
        policy === undefined || target === undefined
          ? null
          : {
              maxDurationMinutes: policy.rules.maxDurationMinutes,
              reasonRequired: policy.rules.reasonRequired || input.breakGlass,
              ticketRequired: policy.rules.ticketRequired,
              ticketPattern: policy.rules.ticketPattern ?? null,
              approvalsRequired: input.breakGlass || autoApprove ? 0 : policy.rules.approvalsRequired,
              autoApprove,
              breakGlassAllowed,
              principals: [...target.principals],
            },
      suggestedReviewers: suggested,
    };
  }

  async create(who: Principal, input: z.output<typeof CreateRequestSchema>, audit: AuditCall): Promise<AccessRequestBody> {
    const id = newId('jr');
    const now = this.#now();
    await this.#change(async (tx, emit) => {
      const { target, policy, problems, autoApprove } = await this.#evaluate(tx, who, input);
      if (problems[0] !== undefined) return problems[0];
      if (target === undefined || policy === undefined) throw new Error('evaluate found no problem without a target and a policy');
      const state: RequestState = input.breakGlass ? 'ACTIVE' : autoApprove ? 'APPROVED' : 'PENDING';
      const expiresAt = state === 'PENDING' ? now + this.#config.pendingExpirySeconds * 1000 : state === 'APPROVED' ? now + this.#config.approvedStartSeconds * 1000 : null;
      const endsAt = state === 'ACTIVE' ? now + input.durationMinutes * MINUTE : null;
      await tx.run(
        `INSERT INTO jit_requests (id, requester, requester_name, target_id, principal, reason, ticket, duration_minutes, state, break_glass, auto_approved,
           policy_id, policy_version, approvals_required, approver_groups, created_at, expires_at, decided_at, started_at, ends_at, review_needed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          who.subject,
          who.name ?? null,
          target.id,
          input.principal,
          input.reason || null,
          input.ticket || null,
          input.durationMinutes,
          state,
          input.breakGlass ? 1 : 0,
          autoApprove ? 1 : 0,
          policy.id,
          policy.version,
          policy.rules.approvalsRequired,
          JSON.stringify(policy.rules.approverGroups),
          now,
          expiresAt,
          state === 'PENDING' ? null : now,
          state === 'ACTIVE' ? now : null,
          endsAt,
          input.breakGlass ? 1 : 0,
        ],
      );
      const details = { target: target.name, principal: input.principal, durationMinutes: input.durationMinutes, policy: `${policy.id}@${policy.version}`, state };
      const row = (await this.#read(tx, id))!;
      if (input.breakGlass) {
        // The alert: an audit entry of its own kind, a live event to approvers and service admins, the webhook.
        await audit(tx, 'jit.break-glass.open', id, { ...details, reason: input.reason });
        await emit('break-glass.opened', row, state);
      } else {
        await audit(tx, 'jit.request.create', id, { ...details, autoApproved: autoApprove });
        await emit(autoApprove ? 'request.approved' : 'request.created', row, state);
      }
      return undefined;
    });
    return this.detail(who, id);
  }

  /** An approver's decision on a pending request, or the review a break-glass grant owes. */
  async review(who: Principal, id: string, decision: 'approve' | 'deny', reason: string, audit: AuditCall): Promise<AccessRequestBody> {
    const now = this.#now();
    await this.#change(async (tx, emit) => {
      const row = await this.#lockAndRead(tx, id, now, emit);
      if (row === undefined) return notFound(`request ${id}`);
      if (row.requester === who.subject) return forbidden('you cannot review your own request');
      const groups = approverGroupsOf(row);
      if (!intersects(groups, who.groups)) return forbidden(`only members of ${groups.join(', ')} review this request`);
      const breakGlassReview = Number(row.break_glass) === 1;
      if (breakGlassReview ? Number(row.review_needed) !== 1 : row.state !== 'PENDING') {
        return conflict(breakGlassReview ? 'this break-glass grant has been reviewed already' : `request ${id} is ${row.state}: only a pending request can be decided`);
      }
      const kind = breakGlassReview ? 'post-hoc' : 'approval';
      const already = await tx.get('SELECT 1 AS one FROM jit_reviews WHERE request_id = ? AND kind = ? AND reviewer = ?', [id, kind, who.subject]);
      if (already !== undefined) return conflict('you have reviewed this request already: each approver counts once');
      await tx.run('INSERT INTO jit_reviews (request_id, kind, reviewer, reviewer_name, decision, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)', [id, kind, who.subject, who.name ?? null, decision, reason, now]);
      if (breakGlassReview) {
        await tx.run('UPDATE jit_requests SET review_needed = 0 WHERE id = ?', [id]);
        await audit(tx, 'jit.break-glass.review', id, { decision, reason });
        await emit('break-glass.reviewed', row, row.state);
        return undefined;
      }
      await audit(tx, 'jit.request.review', id, { decision, reason });
      if (decision === 'deny') {
        await tx.run("UPDATE jit_requests SET state = 'DENIED', decided_at = ?, closed_at = ?, closed_by = ?, close_reason = ?, expires_at = NULL WHERE id = ?", [now, now, who.subject, reason, id]);
        await emit('request.denied', row, 'DENIED');
        return undefined;
      }
      const approvals = await countApprovals(tx, id);
      if (approvals < Number(row.approvals_required)) {
        await emit('request.reviewed', row, 'PENDING');
        return undefined;
      }
      await tx.run("UPDATE jit_requests SET state = 'APPROVED', decided_at = ?, expires_at = ? WHERE id = ?", [now, now + this.#config.approvedStartSeconds * 1000, id]);
      await audit(tx, 'jit.request.approved', id, { approvals });
      await emit('request.approved', row, 'APPROVED');
      return undefined;
    });
    return this.detail(who, id);
  }

  async cancel(who: Principal, id: string, reason: string | undefined, audit: AuditCall): Promise<AccessRequestBody> {
    return this.#close(who, id, { from: 'PENDING', to: 'CANCELLED', by: 'requester', action: 'jit.request.cancel', type: 'request.cancelled', reason }, audit);
  }

  /** The requester drops an active grant before its end. */
  async end(who: Principal, id: string, reason: string | undefined, audit: AuditCall): Promise<AccessRequestBody> {
    return this.#close(who, id, { from: 'ACTIVE', to: 'ENDED', by: 'requester', action: 'jit.grant.end', type: 'grant.ended', reason }, audit);
  }

  async revoke(who: Principal, id: string, reason: string, audit: AuditCall): Promise<AccessRequestBody> {
    return this.#close(who, id, { from: 'ACTIVE', to: 'REVOKED', by: 'approver', action: 'jit.grant.revoke', type: 'grant.revoked', reason }, audit);
  }

  async start(who: Principal, id: string, audit: AuditCall): Promise<AccessRequestBody> {
    const now = this.#now();
    await this.#change(async (tx, emit) => {
      const row = await this.#lockAndRead(tx, id, now, emit);
      if (row === undefined) return notFound(`request ${id}`);
      if (row.requester !== who.subject) return forbidden('only the requester starts a grant');
      if (row.state !== 'APPROVED') return conflict(`request ${id} is ${row.state}: only an approved request can be started`);
      const endsAt = now + Number(row.duration_minutes) * MINUTE;
      await tx.run("UPDATE jit_requests SET state = 'ACTIVE', started_at = ?, ends_at = ?, expires_at = NULL WHERE id = ?", [now, endsAt, id]);
      await audit(tx, 'jit.grant.start', id, { endsAt });
      await emit('grant.started', row, 'ACTIVE');
      return undefined;
    });
    return this.detail(who, id);
  }

  async #close(
    who: Principal,
    id: string,
    step: { from: RequestState; to: RequestState; by: 'requester' | 'approver'; action: string; type: JitEventBody['type']; reason: string | undefined },
    audit: AuditCall,
  ): Promise<AccessRequestBody> {
    const now = this.#now();
    await this.#change(async (tx, emit) => {
      const row = await this.#lockAndRead(tx, id, now, emit);
      if (row === undefined) return notFound(`request ${id}`);
      if (step.by === 'requester' && row.requester !== who.subject) return forbidden(`only the requester can do this; request ${id} is ${row.requester}'s`);
      if (step.by === 'approver' && !who.roles.has('service-admin') && !intersects(approverGroupsOf(row), who.groups)) {
        return forbidden(`only service admins and members of ${approverGroupsOf(row).join(', ')} can revoke this grant`);
      }
      if (row.state !== step.from) return conflict(`request ${id} is ${row.state}, not ${step.from}`);
      // An early end is the grant's real end: the SSH CA reads ends_at.
      const endsAt = step.from === 'ACTIVE' ? now : row.ends_at;
      await tx.run('UPDATE jit_requests SET state = ?, closed_at = ?, closed_by = ?, close_reason = ?, ends_at = ?, expires_at = NULL WHERE id = ? AND state = ?', [
        step.to,
        now,
        who.subject,
        step.reason ?? null,
        endsAt,
        id,
        step.from,
      ]);
      await audit(tx, step.action, id, step.reason === undefined ? {} : { reason: step.reason });
      await emit(step.type, row, step.to);
      return undefined;
    });
    return this.detail(who, id);
  }

  /** May `who` see this request: theirs, or they could review it, or they oversee everything. */
  #maySee(who: Principal, row: RequestRow): boolean {
    return row.requester === who.subject || who.roles.has('service-admin') || who.roles.has('auditor') || intersects(approverGroupsOf(row), who.groups);
  }

  /** Reads rows, settling those whose deadline has passed first. */
  async #settled(rows: RequestRow[]): Promise<RequestRow[]> {
    const now = this.#now();
    const out: RequestRow[] = [];
    for (const row of rows) {
      if (dueAt(row, now) === undefined) out.push(row);
      else out.push((await this.#change(async (tx, emit) => this.#lockAndRead(tx, row.id, now, emit))) ?? row);
    }
    return out;
  }

  async detail(who: Principal, id: string): Promise<AccessRequestBody> {
    const row = await this.#read(this.#db, id);
    if (row === undefined) throw notFound(`request ${id}`);
    if (!this.#maySee(who, row)) throw forbidden(`request ${id} is neither yours nor one you may review`);
    return (await this.#bodies(await this.#settled([row])))[0]!;
  }

  async mine(who: Principal, state: RequestState | undefined, limit: number): Promise<AccessRequestBody[]> {
    const rows = await this.#db.all<RequestRow>(
      `${SELECT_REQUEST} WHERE r.requester = ?${state === undefined ? '' : ' AND r.state = ?'} ORDER BY r.created_at DESC, r.id LIMIT ?`,
      state === undefined ? [who.subject, limit] : [who.subject, state, limit],
    );
    // A row read as PENDING may have expired meanwhile: the filter applies to the settled state.
    return (await this.#bodies(await this.#settled(rows))).filter((r) => state === undefined || r.state === state);
  }

  /** Pending requests `who` may decide and has not, and break-glass grants awaiting review. */
  async inbox(who: Principal): Promise<{ pending: AccessRequestBody[]; toReview: AccessRequestBody[] }> {
    const rows = await this.#db.all<RequestRow>(
      `${SELECT_REQUEST} WHERE r.requester <> ? AND (r.state = 'PENDING' OR (r.break_glass = 1 AND r.review_needed = 1))
         AND NOT EXISTS (SELECT 1 FROM jit_reviews v WHERE v.request_id = r.id AND v.reviewer = ?)
       ORDER BY r.created_at, r.id LIMIT 1000`,
      [who.subject, who.subject],
    );
    const bodies = await this.#bodies(await this.#settled(rows.filter((r) => intersects(approverGroupsOf(r), who.groups))));
    return { pending: bodies.filter((r) => r.state === 'PENDING' && !r.breakGlass), toReview: bodies.filter((r) => r.breakGlass && r.reviewNeeded) };
  }

  async #bodies(rows: RequestRow[]): Promise<AccessRequestBody[]> {
    if (rows.length === 0) return [];
    const now = this.#now();
    const reviews = await this.#db.all<ReviewRow>(`SELECT * FROM jit_reviews WHERE request_id IN (${rows.map(() => '?').join(', ')}) ORDER BY at, reviewer`, rows.map((r) => r.id));
    return rows.map((row) => {
      const own = reviews.filter((v) => v.request_id === row.id);
      const deadline = row.state === 'PENDING' || row.state === 'APPROVED' ? row.expires_at : row.state === 'ACTIVE' ? row.ends_at : null;
      return {
        id: row.id,
        requester: row.requester,
        requesterName: row.requester_name,
        target: { id: row.target_id, name: row.target_name, host: row.target_host, port: Number(row.target_port), environment: row.target_environment },
        principal: row.principal,
        reason: row.reason,
        ticket: row.ticket,
        durationMinutes: Number(row.duration_minutes),
        state: row.state,
        breakGlass: Number(row.break_glass) === 1,
        autoApproved: Number(row.auto_approved) === 1,
        policy: { id: row.policy_id, version: Number(row.policy_version) },
        approvalsRequired: Number(row.approvals_required),
        approvals: own.filter((v) => v.kind === 'approval' && v.decision === 'approve').length,
        createdAt: Number(row.created_at),
        expiresAt: nullableNumber(row.expires_at),
        decidedAt: nullableNumber(row.decided_at),
        startedAt: nullableNumber(row.started_at),
        endsAt: nullableNumber(row.ends_at),
        closedAt: nullableNumber(row.closed_at),
        closedBy: row.closed_by,
        closeReason: row.close_reason,
        reviewNeeded: Number(row.review_needed) === 1,
        remainingMs: deadline === null ? null : Math.max(0, Number(deadline) - now),
        reviews: own.map((v) => ({ reviewer: v.reviewer, reviewerName: v.reviewer_name, kind: v.kind, decision: v.decision, reason: v.reason, at: Number(v.at) })),
      };
    });
  }
}

const nullableNumber = (value: number | null): number | null => (value === null ? null : Number(value));

async function countApprovals(tx: Queryable, id: string): Promise<number> {
  const row = await tx.get<{ n: number }>("SELECT COUNT(*) AS n FROM jit_reviews WHERE request_id = ? AND kind = 'approval' AND decision = 'approve'", [id]);
  return Number(row?.n ?? 0);
}

/** What the SSH CA may sign for: one principal on one target, until `endsAt`. */
export interface UsableGrant {
  readonly id: string;
  readonly principals: readonly [string];
  readonly target: { readonly id: string; readonly name: string; readonly host: string; readonly port: number };
  readonly endsAt: number;
}

export type GrantRefusal = 'not-found' | 'not-yours' | 'not-active' | 'expired' | 'ended' | 'revoked';

/**
 * For the SSH CA (server/ca/): the grant `grantId` (a request id) if it is ACTIVE, belongs to
 * `subject`, and has not reached its end at `now`; otherwise why not. Reads only: a grant past
 * its end is `expired` here even before the sweeper has stored it as ENDED.
 */
export async function activeGrantFor(
  db: Queryable,
  grantId: string,
  subject: string,
  now: number,
): Promise<{ usable: true; grant: UsableGrant } | { usable: false; reason: GrantRefusal; message: string }> {
  const row = await db.get<RequestRow>(`${SELECT_REQUEST} WHERE r.id = ?`, [grantId]);
  if (row === undefined) return { usable: false, reason: 'not-found', message: `grant ${grantId} does not exist` };
  if (row.requester !== subject) return { usable: false, reason: 'not-yours', message: `grant ${grantId} is not yours` };
  if (row.state === 'REVOKED') return { usable: false, reason: 'revoked', message: `grant ${grantId} was revoked` };
  if (row.state === 'ENDED') return { usable: false, reason: 'ended', message: `grant ${grantId} has ended` };
  if (row.state === 'EXPIRED') return { usable: false, reason: 'expired', message: `request ${grantId} expired before it was started` };
  if (row.state !== 'ACTIVE') return { usable: false, reason: 'not-active', message: `grant ${grantId} is ${row.state}, not ACTIVE` };
  const endsAt = Number(row.ends_at);
  if (now >= endsAt) return { usable: false, reason: 'expired', message: `grant ${grantId} ended at ${new Date(endsAt).toISOString()}` };
  return {
    usable: true,
    grant: { id: row.id, principals: [row.principal], target: { id: row.target_id, name: row.target_name, host: row.target_host, port: Number(row.target_port) }, endsAt },
  };
}
