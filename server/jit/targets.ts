/**
 * The targets inventory: SSH hosts people may ask to reach. Service admins create, edit and
 * disable them; a disabled target takes no new requests but keeps its history.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { CreateTargetSchema, Environment, TargetQuerySchema, UpdateTargetSchema } from '../../shared/api/jit.ts';
import type { Queryable } from '../db/database.ts';
import { ConflictError } from '../db/database.ts';
import { conflict, notFound } from '../http/errors.ts';

export interface Target {
  readonly id: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly principals: readonly string[];
  readonly labels: readonly string[];
  readonly environment: Environment;
  readonly disabled: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface TargetRow {
  id: string;
  name: string;
  host: string;
  port: number;
  principals: string;
  labels: string;
  environment: Environment;
  disabled: number;
  created_at: number;
  updated_at: number;
}

const COLUMNS = 'id, name, host, port, principals, labels, environment, disabled, created_at, updated_at';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** `prefix_` and 20 random characters of a-z 0-9 (100 bits). */
export function newId(prefix: string): string {
  const bytes = randomBytes(20);
  let id = `${prefix}_`;
  for (const byte of bytes) id += ALPHABET[byte & 31];
  return id;
}

function fromRow(row: TargetRow): Target {
  return {
    id: row.id,
    name: row.name,
    host: row.host,
    port: Number(row.port),
    principals: JSON.parse(row.principals) as string[],
    labels: JSON.parse(row.labels) as string[],
    environment: row.environment,
    disabled: Number(row.disabled) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export async function getTarget(db: Queryable, id: string): Promise<Target | undefined> {
  const row = await db.get<TargetRow>(`SELECT ${COLUMNS} FROM jit_targets WHERE id = ?`, [id]);
  return row === undefined ? undefined : fromRow(row);
}

export async function listTargets(db: Queryable, query: z.infer<typeof TargetQuerySchema>): Promise<Target[]> {
  const rows = await db.all<TargetRow>(`SELECT ${COLUMNS} FROM jit_targets ORDER BY name_key`);
  const q = query.q?.toLowerCase();
  return rows
    .map(fromRow)
    .filter(
      (t) =>
        (query.environment === undefined || t.environment === query.environment) &&
        (query.label === undefined || t.labels.includes(query.label)) &&
        (q === undefined || t.name.toLowerCase().includes(q) || t.host.toLowerCase().includes(q) || t.labels.some((l) => l.includes(q))),
    );
}

export async function createTarget(tx: Queryable, input: z.output<typeof CreateTargetSchema>, now: number): Promise<Target> {
  const target: Target = { id: newId('tg'), ...input, disabled: false, createdAt: now, updatedAt: now };
  try {
    await tx.run(
      'INSERT INTO jit_targets (id, name, name_key, host, port, principals, labels, environment, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)',
      [target.id, target.name, target.name.toLowerCase(), target.host, target.port, JSON.stringify(target.principals), JSON.stringify(target.labels), target.environment, now, now],
    );
  } catch (error) {
    if (error instanceof ConflictError) throw conflict(`a target named ${JSON.stringify(input.name)} already exists`);
    throw error;
  }
  return target;
}

export async function updateTarget(tx: Queryable, id: string, change: z.output<typeof UpdateTargetSchema>, now: number): Promise<{ before: Target; after: Target }> {
  await tx.lock(`jit-target:${id}`);
  const before = await getTarget(tx, id);
  if (before === undefined) throw notFound(`target ${id}`);
  const after: Target = {
    ...before,
    ...Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)),
    updatedAt: now,
  };
  try {
    await tx.run('UPDATE jit_targets SET name = ?, name_key = ?, host = ?, port = ?, principals = ?, labels = ?, environment = ?, disabled = ?, updated_at = ? WHERE id = ?', [
      after.name,
      after.name.toLowerCase(),
      after.host,
      after.port,
      JSON.stringify(after.principals),
      JSON.stringify(after.labels),
      after.environment,
      after.disabled ? 1 : 0,
      now,
      id,
    ]);
  } catch (error) {
    if (error instanceof ConflictError) throw conflict(`a target named ${JSON.stringify(after.name)} already exists`);
    throw error;
  }
  return { before, after };
}
