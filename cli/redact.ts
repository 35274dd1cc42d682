/**
 * `custody redact [--policy FILE] [--known-secret VALUE]… [--cols N]`: filters
 * standard input to standard output through the same streaming redactor the
 * recorder uses, and prints one marker per redaction on standard error (like
 * gitleaks' stdin mode). Handy for trying rules and policies; the benchmarks
 * drive it too.
 */
import { redactorForPolicy, rulesForPolicy } from '../shared/redaction/engine.ts';
import type { RedactedPiece } from '../shared/redaction/redactor.ts';
import { FileKeyStore } from '../recorder/index.ts';
import { dataDir, deviceKeyFile } from './paths.ts';
import { loadPolicy } from './policy-file.ts';
import { UsageError } from './record.ts';

export interface RedactOptions {
  readonly policyFile?: string;
  readonly knownSecrets: readonly string[];
  readonly cols: number;
}

export async function redact(options: RedactOptions): Promise<number> {
  const policy = await loadPolicy(options.policyFile);
  let rules;
  try {
    rules = rulesForPolicy(policy, options.knownSecrets);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const key = await new FileKeyStore(deviceKeyFile(dataDir())).redactionKey();
  const redactor = redactorForPolicy(rules, key, options.cols);
  const decoder = new TextDecoder('utf-8');
  const write = async (pieces: readonly RedactedPiece[]): Promise<void> => {
    for (const piece of pieces) {
      if (piece.kind === 'text') {
        if (!process.stdout.write(piece.text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
      } else {
        process.stderr.write(`${piece.label}\n`);
      }
    }
  };
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) await write(redactor.output(decoder.decode(chunk, { stream: true })));
  await write(redactor.output(decoder.decode()));
  await write(redactor.end());
  await write(redactor.flushInput());
  return 0;
}
