/** `custody verify | cat | play | export`: the commands that read a bundle. */
import { open, readFile, stat } from 'node:fs/promises';
import {
  FormatError,
  isoTime,
  outputText,
  readRecording,
  toAsciicastV2,
  TrustRootSchema,
  verifyBundle,
  type TrustRoot,
  type VerifyReport,
} from '../shared/bundle/index.ts';
import { nodeSuite, nodeZipCodec } from '../recorder/index.ts';
import { UsageError } from './record.ts';

/** Uint8Array length limit; a larger file is no bundle we wrote. */
const MAX_BUNDLE_BYTES = 2 ** 31 - 1;

export async function readBundleFile(path: string): Promise<Uint8Array> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  if (size > MAX_BUNDLE_BYTES) throw new UsageError(`${path} is ${size} bytes, larger than any bundle this tool reads (2 GiB)`);
  return new Uint8Array(await readFile(path));
}

export async function loadTrustRoot(path: string): Promise<TrustRoot> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`trust root ${path} is not readable JSON: ${(error as Error).message}`);
  }
  const parsed = TrustRootSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`trust root ${path} field ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

const MARK: Record<string, string> = { info: 'i', 'untrusted-key': '!', 'no-seal': '!', 'unsealed-tail': '!', 'torn-line': '!' };

export function formatReport(name: string, report: VerifyReport): string {
  const lines = [`${name}: ${report.status === 'intact' ? (report.trusted ? 'intact and trusted' : 'intact') : report.status}`];
  lines.push(`  ${report.summary}`);
  const s = report.session;
  if (s !== undefined) {
    lines.push(`  session    ${s.sessionId}`);
    lines.push(`  command    ${s.command.join(' ')}`);
    lines.push(`  started    ${isoTime(s.startedAt)}${s.endedAt === null ? '' : `, ended ${isoTime(s.endedAt)}`}`);
    if (s.exitStatus !== null) lines.push(`  exit       ${s.exitStatus}`);
    const meta = Object.entries(s.metadata).map(([k, v]) => `${k}=${v}`).join(' ');
    if (meta !== '') lines.push(`  metadata   ${meta}`);
    lines.push(`  redaction  policy ${s.redaction.policyVersion}, ${Object.values(s.redaction.counts).reduce((a, b) => a + b, 0)} redactions`);
  }
  if (report.signer !== undefined) {
    const via = report.signer.trustedVia === 'org-root' ? `certified by org root ${report.signer.orgKeyId?.slice(0, 16)}…` : report.signer.trustedVia === 'device-key' ? 'listed in the trust root' : 'not trusted';
    lines.push(`  device key ${report.signer.deviceKeyId.slice(0, 16)}… (${via})${report.signer.subject === undefined ? '' : ` for ${report.signer.subject.sub}`}`);
  }
  if (report.countersignedBy !== undefined) {
    lines.push(`  archived   countersigned by the service key ${report.countersignedBy.keyId.slice(0, 16)}…${report.countersignedBy.name === undefined ? '' : ` (${report.countersignedBy.name})`}`);
  }
  if (report.tree !== undefined) {
    lines.push(`  recording  ${report.tree.lines} lines, ${report.tree.checkpoints} checkpoints, ${report.tree.verifiedSize} lines verified, ${report.tree.sealed ? 'sealed' : 'not sealed'}`);
  }
  if (report.findings.length > 0) {
    lines.push('  findings:');
    for (const f of report.findings) lines.push(`    ${MARK[f.status] ?? '✗'} ${f.status}: ${f.message}`);
  }
  return lines.join('\n') + '\n';
}

export async function verify(path: string, options: { trust?: string; json: boolean; allowUntrusted: boolean }): Promise<number> {
  const bytes = await readBundleFile(path);
  const trustRoot = options.trust === undefined ? undefined : await loadTrustRoot(options.trust);
  const report = verifyBundle(bytes, { suite: nodeSuite, zipCodec: nodeZipCodec, ...(trustRoot === undefined ? {} : { trustRoot }) });
  process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(path, report));
  const ok = report.status === 'intact' ? report.trusted : report.status === 'untrusted-key' && options.allowUntrusted;
  return ok ? 0 : 1;
}

function recordingOf(path: string, bytes: Uint8Array): ReturnType<typeof readRecording> {
  try {
    return readRecording(bytes, undefined, nodeZipCodec);
  } catch (error) {
    if (error instanceof FormatError) throw new UsageError(`${path}: ${error.message}`);
    throw error;
  }
}

/** Warns (on stderr) when the bundle does not verify, so nobody mistakes an altered recording for the record. */
function warnIfNotIntact(path: string, bytes: Uint8Array): void {
  const report = verifyBundle(bytes, { suite: nodeSuite, zipCodec: nodeZipCodec });
  if (!report.intact) process.stderr.write(`custody: warning: ${path} does not verify (${report.status}): ${report.summary}\n`);
}

export async function cat(path: string): Promise<number> {
  const bytes = await readBundleFile(path);
  warnIfNotIntact(path, bytes);
  const { events } = recordingOf(path, bytes);
  await writeAll(outputText(events));
  return 0;
}

export async function play(path: string, options: { speed: number; idleLimit?: number }): Promise<number> {
  const bytes = await readBundleFile(path);
  warnIfNotIntact(path, bytes);
  const { events } = recordingOf(path, bytes);
  let due = performance.now();
  for (const event of events) {
    const pause = options.idleLimit === undefined ? event.interval : Math.min(event.interval, options.idleLimit);
    due += (pause * 1000) / options.speed;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (event.code === 'o') await writeAll(event.data);
  }
  return 0;
}

export async function exportV2(path: string, out: string): Promise<number> {
  const bytes = await readBundleFile(path);
  warnIfNotIntact(path, bytes);
  const { header, events } = recordingOf(path, bytes);
  const handle = await open(out, 'w', 0o600);
  try {
    await handle.writeFile(toAsciicastV2(header, events));
  } finally {
    await handle.close();
  }
  process.stderr.write(`custody: wrote asciicast v2 to ${out}\n`);
  return 0;
}

function writeAll(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
