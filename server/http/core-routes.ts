/** Health (for load balancers, public) and the caller's own identity and roles. */
import { HealthSchema, MeSchema } from '../../shared/api/identity.ts';
import type { ServiceModule } from './context.ts';

export const coreModule: ServiceModule = {
  name: 'core',
  register(app, { db, now, principalOf }) {
    app.get('/health', { config: { access: 'public' }, schema: { summary: 'Liveness, the server clock, the database kind', response: { 200: HealthSchema } } }, async () => {
      await db.get('SELECT 1 AS one');
      return { status: 'ok' as const, now: now(), database: db.dialect };
    });
    app.get('/v1/me', { config: { access: 'signed-in' }, schema: { summary: 'Who the access token says you are, and your roles', response: { 200: MeSchema } } }, async (request) => {
      const who = principalOf(request);
      return {
        subject: who.subject,
        ...(who.name === undefined ? {} : { name: who.name }),
        ...(who.email === undefined ? {} : { email: who.email }),
        groups: [...who.groups],
        roles: [...who.roles],
        expiresAt: who.expiresAt,
        ...(request.device === null ? {} : { device: request.device }),
      };
    });
  },
};
