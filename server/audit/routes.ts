/** The audit log over HTTP: read it page by page, and verify its chain. Auditors and service admins. */
import { AuditPageQuerySchema, AuditPageSchema, ChainReportSchema } from '../../shared/api/audit.ts';
import type { ServiceModule } from '../http/context.ts';
import { readAudit, verifyChain } from './audit-log.ts';

export const auditModule: ServiceModule = {
  name: 'audit',
  register(app, { db }) {
    app.get(
      '/v1/audit',
      {
        config: { access: ['auditor', 'service-admin'] },
        schema: { summary: 'Audit log entries in order, after a sequence number', querystring: AuditPageQuerySchema, response: { 200: AuditPageSchema } },
      },
      async (request) => ({ entries: await readAudit(db, request.query.after, request.query.limit) }),
    );
    app.get(
      '/v1/audit/verify',
      {
        config: { access: ['auditor', 'service-admin'] },
        schema: { summary: 'Walks the hash chain and says where it first breaks', response: { 200: ChainReportSchema } },
      },
      async () => verifyChain(db),
    );
  },
};
