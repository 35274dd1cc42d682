/**
 * The CA's grant lookup, answered by the JIT module: a grant backs a certificate while it is
 * ACTIVE, the caller's, and before its end (`activeGrantFor`). Its refusals keep their reason.
 */
import { activeGrantFor } from '../jit/index.ts';
import type { GrantLookup } from './authority.ts';

export const jitGrants: GrantLookup = {
  async activeGrant(q, grantId, subject, now) {
    const answer = await activeGrantFor(q, grantId, subject, now);
    if (!answer.usable) return { refused: answer.reason, message: answer.message };
    return { id: answer.grant.id, principals: answer.grant.principals, endsAt: answer.grant.endsAt, target: answer.grant.target };
  },
};
