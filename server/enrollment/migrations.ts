/** The enrollment module's tables (versions 400-499). */
import type { Migration } from '../db/migrate.ts';

export const ENROLLMENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 400,
    name: 'enrollment challenges and devices',
    up: `
      CREATE TABLE device_challenges (
        nonce TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        -- set once, when an enrollment spends the nonce: never two enrollments from one challenge
        used_at BIGINT
      );
      CREATE INDEX device_challenges_expiry ON device_challenges (expires_at);
      CREATE TABLE devices (
        -- the key id: lowercase hex SHA-256 of the public key
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        public_key TEXT NOT NULL,
        certificate TEXT NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        enrolled_at BIGINT NOT NULL,
        revoked_at BIGINT,
        revoked_by TEXT
      );
      CREATE INDEX devices_owner ON devices (owner);
    `,
  },
];
