/** The archive: the module (search, export, legal hold, quarantine list), its tables, and the retention sweeper. */
export { archiveModule, type ArchiveModuleOptions } from './routes.ts';
export { ARCHIVE_MIGRATIONS } from './archive-store.ts';
export { ArchiveConfigSchema, type ArchiveConfig } from './config.ts';
export { sweepExpired, type SweepResult } from './retention.ts';
