/**
 * `npm start`: until the desktop app lands, this runs the real thing headless —
 * a recorded session of your local shell through the recorder process — then
 * verifies the sealed bundle against this device's trust root and shows how to
 * read it back.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const custody = join(root, 'bin', 'custody.js');
const outDir = join(process.cwd(), 'recordings');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const bundle = join(outDir, `session-${stamp}.custody`);
const trust = join(outDir, 'trust-root.json');
const shell = process.env['SHELL'] ?? '/bin/bash';
const show = (path: string): string => relative(process.cwd(), path) || path;

function run(args: string[], quiet = false): number {
  const result = spawnSync(process.execPath, [custody, ...args], { stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
  return result.status ?? 1;
}

process.stdout.write(
  `\nCustody — recorded terminal (headless; the desktop app comes later)\n` +
    `Starting ${shell} in a recorded pty. Everything you type and see is recorded,\n` +
    `checkpointed and signed. Type "exit" to end the session and seal the bundle.\n\n`,
);
run(['record', '--out', bundle, '--', shell]);
run(['keys', 'trust-root', '--out', trust], true);
process.stdout.write('\n');
const verdict = run(['verify', bundle, '--trust', trust]);
process.stdout.write(
  `\nRead it back:\n` +
    `  npm run custody -- cat ${show(bundle)}\n` +
    `  npm run custody -- play ${show(bundle)} --speed 2\n` +
    `  npm run custody -- export ${show(bundle)} --asciicast-v2 session.cast\n` +
    `  npm run custody -- verify ${show(bundle)} --trust ${show(trust)} --json\n`,
);
process.exitCode = verdict;
