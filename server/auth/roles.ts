/**
 * Roles of the service, and how IdP groups map to them (configuration, not code: each org names
 * its groups its own way).
 *
 * - admin: asks for access to targets and works in recorded sessions; sees their own sessions.
 * - approver: reviews other people's access requests.
 * - auditor: reads every recording and the audit log; changes nothing.
 * - service-admin: manages targets, policy and retention; reads the audit log.
 */
import { z } from 'zod';

export const ROLES = ['admin', 'approver', 'auditor', 'service-admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** Role → the IdP groups that grant it. A user has every role one of their groups grants. */
export const RoleGroupsSchema = z.strictObject({
  admin: z.array(z.string().min(1)).default([]),
  approver: z.array(z.string().min(1)).default([]),
  auditor: z.array(z.string().min(1)).default([]),
  'service-admin': z.array(z.string().min(1)).default([]),
});
export type RoleGroups = z.infer<typeof RoleGroupsSchema>;

export function rolesOf(groups: readonly string[], mapping: RoleGroups): Set<Role> {
  const have = new Set(groups);
  return new Set(ROLES.filter((role) => mapping[role].some((group) => have.has(group))));
}
