/**
 * The service's configuration: one JSON file (or the embedded defaults), validated in full at
 * start. A wrong field stops the service with the field's path and what is wrong with it.
 *
 * Embedded defaults (no file): SQLite and a blob directory under `dataDir`, the dev IdP on
 * loopback. `production: true` refuses the dev IdP and loopback-only shortcuts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ArchiveConfigSchema } from './archive/config.ts';
import { RoleGroupsSchema } from './auth/roles.ts';
import { EnrollmentConfigSchema } from './enrollment/config.ts';
import { JitConfigSchema } from './jit/config.ts';

const MiB = 1024 * 1024;

export const ServiceConfigSchema = z
  .strictObject({
    /** True for a deployment: the dev IdP is refused. */
    production: z.boolean().default(false),
    listen: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(0) }).prefault({}),
    /** The address clients use (links in receipts, tus upload URLs); by default the listen address. */
    publicUrl: z.url().optional(),
    /** Keys (org root, service key, SSH CA) and, by default, the database and blobs live here. */
    dataDir: z.string().min(1),
    database: z
      .discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('sqlite'), path: z.string().min(1).optional() }),
        z.strictObject({ kind: z.literal('postgres'), url: z.string().startsWith('postgres', 'must be a postgres:// URL'), maxConnections: z.number().int().min(1).max(200).default(10) }),
      ])
      .prefault({ kind: 'sqlite' }),
    blobs: z
      .discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('directory'), path: z.string().min(1).optional() }),
        z.strictObject({
          kind: z.literal('s3'),
          bucket: z.string().min(3),
          region: z.string().default('us-east-1'),
          endpoint: z.url().optional(),
          forcePathStyle: z.boolean().default(false),
          /** Object Lock retention mode for stored recordings (the bucket must have Object Lock on). */
          objectLock: z.enum(['none', 'GOVERNANCE', 'COMPLIANCE']).default('COMPLIANCE'),
          /** Where unfinished uploads (tus) are kept in the bucket, so that every instance can resume them. */
          uploadPrefix: z.string().regex(/^([a-z0-9][a-z0-9-]*\/)+$/, 'is a key prefix such as "uploads/" (lower-case folders, ending in /)').default('uploads/'),
        }),
      ])
      .prefault({ kind: 'directory' }),
    auth: z.strictObject({
      issuer: z.url(),
      audience: z.string().min(1),
      groupsClaim: z.string().min(1).default('groups'),
      roleGroups: RoleGroupsSchema,
      clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
      jwksUri: z.url().optional(),
    }),
    /** The development IdP (oidc-provider, seeded users). Never in production. */
    devIdp: z.strictObject({ enabled: z.boolean().default(false), port: z.number().int().min(0).max(65535).default(0) }).prefault({}),
    limits: z
      .strictObject({
        /** Largest JSON body of any API call. */
        jsonBodyBytes: z.number().int().min(1024).max(16 * MiB).default(256 * 1024),
        /**
         * Largest bundle one upload may carry. Ingest verifies and indexes a bundle in memory (see
         * recordingBytes), and a bundle is no larger than what it inflates to, so an upload over
         * 448 MiB could never be archived. See docs/architecture.md, Ingest.
         */
        uploadBytes: z
          .number()
          .int()
          .min(MiB)
          .max(448 * MiB, 'is at most 448 MiB (469762048): ingest holds a bundle in memory, and no bundle may inflate past 448 MiB (limits.recordingBytes)')
          .default(256 * MiB),
        /**
         * Most a bundle may inflate to (all its entries). Ingest holds the bundle, the inflated
         * entries and the recording's search text at once: about 5-6 times this at peak (a 56 MB
         * recording took about 300 MiB), so the cap keeps one ingest in a few GiB. A bundle over
         * it is quarantined (422) with the zip reader's reason, never half-ingested.
         */
        recordingBytes: z
          .number()
          .int()
          .min(MiB)
          .max(448 * MiB, 'is at most 448 MiB (469762048): ingest holds about 5-6 times this in memory at once')
          .default(256 * MiB),
      })
      .prefault({}),
    enrollment: EnrollmentConfigSchema,
    jit: JitConfigSchema,
    archive: ArchiveConfigSchema,
  })
  .superRefine((config, ctx) => {
    if (config.production && config.devIdp.enabled) ctx.addIssue({ code: 'custom', path: ['devIdp', 'enabled'], message: 'the dev IdP is never enabled in production' });
  });

export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;

export class ConfigError extends Error {
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function parseConfig(input: unknown, source = 'configuration'): ServiceConfig {
  const result = ServiceConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(source, result.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`));
}

export async function loadConfig(file: string): Promise<ServiceConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot be read: ${(error as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, [`is not JSON: ${(error as Error).message}`]);
  }
  return parseConfig(json, file);
}

/** Where the embedded defaults put the database and the blobs. */
export function sqlitePath(config: ServiceConfig): string {
  return config.database.kind === 'sqlite' ? (config.database.path ?? join(config.dataDir, 'service.db')) : '';
}

export function blobDirectory(config: ServiceConfig): string {
  return config.blobs.kind === 'directory' ? (config.blobs.path ?? join(config.dataDir, 'blobs')) : '';
}
