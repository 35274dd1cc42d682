/** Ingest: the module (tus uploads, live checkpoints), and what other parts may use of it. */
export { ingestModule, type IngestModuleOptions } from './routes.ts';
export { LIVE_MIGRATIONS } from './live-checkpoints.ts';
export { ownKeysTrustSource, type DeviceStanding, type TrustSource } from './trust.ts';
