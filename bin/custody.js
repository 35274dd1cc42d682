#!/usr/bin/env node
// The `custody` command. The CLI is TypeScript run by Node 22's type stripping;
// when an older Node is first on PATH, re-run under the project's own Node 22
// (the `node` devDependency) rather than fail with a syntax error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Type stripping without a flag starts at Node 22.18.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(bundled)) {
    process.stderr.write(`custody needs Node 22.18 or newer (this is ${process.version}); run npm install first\n`);
    process.exit(2);
  }
  const result = spawnSync(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
await import('../cli/main.ts');
