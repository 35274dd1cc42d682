/**
 * Just-in-time access: targets, policies, requests, grants, live events. The public face of
 * server/jit/ for the rest of the service.
 *
 * For the SSH CA: `activeGrantFor(db, grantId, subject, now)` says whether a grant may back a
 * certificate now, and gives its one principal, its target and its end.
 */
export { jitModule } from './routes.ts';
export { activeGrantFor, type GrantRefusal, type UsableGrant } from './requests.ts';
export { JIT_MIGRATIONS } from './migrations.ts';
export { JitConfigSchema, type JitConfig } from './config.ts';
