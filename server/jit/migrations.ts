/**
 * The JIT module's tables (versions 200-299). Lists and rule sets are JSON text: they are read
 * whole and matched in code, never queried into.
 */
import type { Migration } from '../db/migrate.ts';

export const JIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 200,
    name: 'jit targets, policies, requests, reviews, users seen, event tickets',
    up: `
      CREATE TABLE jit_targets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        -- names are unique whatever their case
        name_key TEXT NOT NULL UNIQUE,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        principals TEXT NOT NULL,
        labels TEXT NOT NULL,
        environment TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE jit_policies (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        rules TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        updated_by TEXT NOT NULL
      );
      -- every version ever saved, the current one included: requests name the version they met
      CREATE TABLE jit_policy_versions (
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        rules TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        updated_by TEXT NOT NULL,
        PRIMARY KEY (id, version)
      );
      CREATE TABLE jit_requests (
        id TEXT PRIMARY KEY,
        requester TEXT NOT NULL,
        requester_name TEXT,
        target_id TEXT NOT NULL REFERENCES jit_targets (id),
        principal TEXT NOT NULL,
        reason TEXT,
        ticket TEXT,
        duration_minutes INTEGER NOT NULL,
        state TEXT NOT NULL,
        break_glass INTEGER NOT NULL,
        auto_approved INTEGER NOT NULL,
        policy_id TEXT NOT NULL,
        policy_version INTEGER NOT NULL,
        approvals_required INTEGER NOT NULL,
        -- the policy's approver groups when the request was filed: a later edit does not move them
        approver_groups TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        decided_at BIGINT,
        started_at BIGINT,
        ends_at BIGINT,
        closed_at BIGINT,
        closed_by TEXT,
        close_reason TEXT,
        review_needed INTEGER NOT NULL
      );
      CREATE INDEX jit_requests_requester ON jit_requests (requester, created_at);
      CREATE INDEX jit_requests_state_expiry ON jit_requests (state, expires_at);
      CREATE INDEX jit_requests_state_end ON jit_requests (state, ends_at);
      CREATE TABLE jit_reviews (
        request_id TEXT NOT NULL REFERENCES jit_requests (id),
        kind TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        reviewer_name TEXT,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        at BIGINT NOT NULL,
        -- one person counts once
        PRIMARY KEY (request_id, kind, reviewer)
      );
      CREATE TABLE jit_users (
        subject TEXT PRIMARY KEY,
        name TEXT,
        email TEXT,
        groups TEXT NOT NULL,
        last_seen BIGINT NOT NULL
      );
      CREATE TABLE jit_event_tickets (
        ticket_hash TEXT PRIMARY KEY,
        principal TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      -- the last event's number; its row lock orders events as their transactions commit
      CREATE TABLE jit_event_counter (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL);
      INSERT INTO jit_event_counter (id, seq) VALUES (1, 0);
    `,
  },
];
