/**
 * Reads a redaction policy file for `custody record --policy` and `custody redact --policy`:
 * JSON, checked against the policy schema (shared/redaction/policy.ts), every problem named.
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_POLICY, parsePolicy, PolicyError, type RedactionPolicy } from '../shared/redaction/policy.ts';
import { UsageError } from './record.ts';

/** The policy in `path`, or the built-in default when there is none. */
export async function loadPolicy(path: string | undefined): Promise<RedactionPolicy> {
  if (path === undefined) return DEFAULT_POLICY;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`policy ${path} is not readable JSON: ${(error as Error).message}`);
  }
  try {
    return parsePolicy(json, path);
  } catch (error) {
    if (error instanceof PolicyError) throw new UsageError(error.message);
    throw error;
  }
}
