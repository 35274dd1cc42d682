/**
 * Every migration of the service, in order. Each module owns its tables and exports its
 * migrations; its versions are in its own hundred (audit 100–199, JIT 200–299, SSH CA 300–399,
 * enrollment 400–499, ingest and archive 500–599), so modules can add theirs independently.
 */
import { ARCHIVE_MIGRATIONS } from '../archive/archive-store.ts';
import { AUDIT_MIGRATIONS } from '../audit/audit-log.ts';
import { ENROLLMENT_MIGRATIONS } from '../enrollment/migrations.ts';
import { LIVE_MIGRATIONS } from '../ingest/live-checkpoints.ts';
import { JIT_MIGRATIONS } from '../jit/migrations.ts';
import { SSH_CA_MIGRATIONS } from '../ca/authority.ts';
import type { Migration } from './migrate.ts';

export const MIGRATIONS: readonly Migration[] = [...AUDIT_MIGRATIONS, ...JIT_MIGRATIONS, ...SSH_CA_MIGRATIONS, ...ENROLLMENT_MIGRATIONS, ...LIVE_MIGRATIONS, ...ARCHIVE_MIGRATIONS].sort((a, b) => a.version - b.version);
