/**
 * Access policies: stored, edited by service admins, versioned (every version is kept, and a
 * request names the version it met). Which policy decides for a target and a person is a pure
 * function of the policies, the target and the person's groups (`policyFor`).
 */
import { RE2JS } from 're2js';
import type { PolicyRules } from '../../shared/api/jit.ts';
import type { Queryable } from '../db/database.ts';
import { ConflictError } from '../db/database.ts';
import { badRequest, conflict, notFound } from '../http/errors.ts';
import type { Target } from './targets.ts';

export interface Policy {
  readonly id: string;
  readonly version: number;
  readonly updatedAt: number;
  readonly updatedBy: string;
  readonly rules: PolicyRules;
}

interface PolicyRow {
  id: string;
  version: number;
  rules: string;
  updated_at: number;
  updated_by: string;
}

function fromRow(row: PolicyRow): Policy {
  return { id: row.id, version: Number(row.version), updatedAt: Number(row.updated_at), updatedBy: row.updated_by, rules: JSON.parse(row.rules) as PolicyRules };
}

/** A ticket pattern must compile (RE2: linear time, whatever a ticket holds). */
function checkRules(rules: PolicyRules): void {
  if (rules.ticketPattern === undefined) return;
  try {
    RE2JS.compile(rules.ticketPattern);
  } catch (error) {
    throw badRequest(`rules.ticketPattern is not a valid pattern: ${(error as Error).message}`);
  }
}

export function ticketMatches(pattern: string, ticket: string): boolean {
  return RE2JS.compile(pattern).matches(ticket);
}

export async function listPolicies(db: Queryable): Promise<Policy[]> {
  return (await db.all<PolicyRow>('SELECT id, version, rules, updated_at, updated_by FROM jit_policies ORDER BY id')).map(fromRow);
}

export async function policyVersions(db: Queryable, id: string): Promise<Policy[]> {
  return (await db.all<PolicyRow>('SELECT id, version, rules, updated_at, updated_by FROM jit_policy_versions WHERE id = ? ORDER BY version', [id])).map(fromRow);
}

export async function createPolicy(tx: Queryable, id: string, rules: PolicyRules, by: string, now: number): Promise<Policy> {
  checkRules(rules);
  const policy: Policy = { id, version: 1, updatedAt: now, updatedBy: by, rules };
  try {
    await tx.run('INSERT INTO jit_policies (id, version, rules, updated_at, updated_by) VALUES (?, 1, ?, ?, ?)', [id, JSON.stringify(rules), now, by]);
  } catch (error) {
    if (error instanceof ConflictError) throw conflict(`a policy with id ${id} already exists`);
    throw error;
  }
  await tx.run('INSERT INTO jit_policy_versions (id, version, rules, updated_at, updated_by) VALUES (?, 1, ?, ?, ?)', [id, JSON.stringify(rules), now, by]);
  return policy;
}

/** Saves `rules` as the next version, if `readVersion` is still the current one. */
export async function updatePolicy(tx: Queryable, id: string, readVersion: number, rules: PolicyRules, by: string, now: number): Promise<Policy> {
  checkRules(rules);
  await tx.lock(`jit-policy:${id}`);
  const current = await tx.get<PolicyRow>('SELECT id, version, rules, updated_at, updated_by FROM jit_policies WHERE id = ?', [id]);
  if (current === undefined) throw notFound(`policy ${id}`);
  if (Number(current.version) !== readVersion) throw conflict(`policy ${id} is at version ${current.version}, not ${readVersion}: read it again and redo the edit`);
  const version = readVersion + 1;
  await tx.run('UPDATE jit_policies SET version = ?, rules = ?, updated_at = ?, updated_by = ? WHERE id = ?', [version, JSON.stringify(rules), now, by, id]);
  await tx.run('INSERT INTO jit_policy_versions (id, version, rules, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)', [id, version, JSON.stringify(rules), now, by]);
  return { id, version, updatedAt: now, updatedBy: by, rules };
}

export function appliesTo(rules: PolicyRules, target: Target): boolean {
  return rules.enabled && (rules.match.environment === undefined || rules.match.environment === target.environment) && (rules.match.label === undefined || target.labels.includes(rules.match.label));
}

const intersects = (a: readonly string[], b: readonly string[]): boolean => a.some((x) => b.includes(x));

export interface PolicyChoice {
  /** The policy that decides an ordinary request by these groups, if any lets them ask. */
  readonly request: Policy | undefined;
  /** The policy that lets these groups break glass, if any. */
  readonly breakGlass: Policy | undefined;
}

/** Of the enabled policies matching `target`, the lowest priority (then id) that admits `groups`. */
export function policyFor(policies: readonly Policy[], target: Target, groups: readonly string[]): PolicyChoice {
  const matching = policies.filter((p) => appliesTo(p.rules, target)).sort((a, b) => a.rules.priority - b.rules.priority || a.id.localeCompare(b.id));
  return {
    request: matching.find((p) => intersects(p.rules.requesterGroups, groups)),
    breakGlass: matching.find((p) => intersects(p.rules.breakGlassGroups, groups)),
  };
}

export function autoApproves(policy: Policy, groups: readonly string[]): boolean {
  return intersects(policy.rules.autoApproveGroups, groups);
}

export { intersects };
