// Proves that eslint.config.js enforces the layering of ARCHITECTURE.md ("Layout"): the rule is
// only worth having if it fires. Files are virtual (lintText with a filePath), so nothing is
// written into the folders under test.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const root = path.resolve(import.meta.dirname, '..');

const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: path.join(root, 'eslint.config.js'),
  // Type-aware linting needs files that exist in a tsconfig project; virtual files do not. The
  // layering rules are syntactic, so switching type information off tests the same rules.
  overrideConfig: { files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked },
});

const LAYERING_RULES = new Set(['no-restricted-imports', 'no-restricted-globals', 'custody/no-restricted-dynamic-import']);

/** Lints `code` as if it were the file `relativePath`; returns the layering rule messages. */
async function layeringFindings(relativePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, relativePath) });
  assert.ok(result, `no lint result for ${relativePath}`);
  const fatal = result.messages.filter((message) => message.fatal === true);
  // A file that fails to parse reports nothing, which would make "not reported" pass vacuously.
  assert.deepEqual(fatal, [], `${relativePath} did not parse`);
  return result.messages
    .filter((message) => message.ruleId !== null && LAYERING_RULES.has(message.ruleId))
    .map((message) => `${message.ruleId}: ${message.message}`);
}

describe('eslint layering (ARCHITECTURE.md, Layout)', () => {
  test('shared/ may not import a Node builtin', async () => {
    const findings = await layeringFindings('shared/x.ts', "import { readFile } from 'node:fs';\nexport { readFile };\n");
    assert.equal(findings.length, 1, findings.join('\n'));
    assert.match(findings[0] ?? '', /node:fs/);
  });

  test('shared/ may not import a bare Node builtin, another top-level folder, or use process', async () => {
    const findings = await layeringFindings(
      'shared/bundle/x.ts',
      "import { join } from 'path';\nimport { x } from '../../recorder/protocol.ts';\nexport const y = [join, x, process.env];\n",
    );
    assert.equal(findings.length, 3, findings.join('\n'));
  });

  test('shared/ may import pure packages and its own files', async () => {
    const findings = await layeringFindings('shared/x.ts', "import { z } from 'zod';\nimport { a } from './bundle/index.ts';\nexport const y = [z, a];\n");
    assert.deepEqual(findings, []);
  });

  test('recorder/ may not import electron', async () => {
    const findings = await layeringFindings('recorder/x.ts', "import 'electron';\n");
    assert.equal(findings.length, 1, findings.join('\n'));
    assert.match(findings[0] ?? '', /electron/);
  });

  test('recorder/ may not import electron dynamically either', async () => {
    const findings = await layeringFindings('recorder/x.ts', "export const e = await import('electron');\n");
    assert.equal(findings.length, 1, findings.join('\n'));
  });

  test('node-adapters/ may import shared/ but not recorder/; recorder/ and server/ may import node-adapters/', async () => {
    const findings = await layeringFindings('node-adapters/x.ts', "import '../shared/bundle/index.ts';\nimport '../recorder/x.ts';\n");
    assert.equal(findings.length, 1, findings.join('\n'));
    assert.match(findings[0] ?? '', /recorder/);
    assert.deepEqual(await layeringFindings('recorder/x.ts', "import '../node-adapters/crypto.ts';\n"), []);
    assert.deepEqual(await layeringFindings('server/x.ts', "import '../node-adapters/zip.ts';\n"), []);
  });

  test('electron/main/ may import electron, but not server/', async () => {
    const findings = await layeringFindings('electron/main/x.ts', "import 'electron';\nimport '../../server/x.ts';\n");
    assert.equal(findings.length, 1, findings.join('\n'));
    assert.match(findings[0] ?? '', /server/);
  });

  test('renderer/ may import only shared/', async () => {
    const findings = await layeringFindings(
      'renderer/x.ts',
      "import '../shared/api.ts';\nimport 'node:path';\nimport '../recorder/protocol.ts';\nimport '../electron/services/x.ts';\n",
    );
    assert.equal(findings.length, 3, findings.join('\n'));
  });

  test('test files may import anything', async () => {
    const findings = await layeringFindings('shared/x.test.ts', "import 'node:fs';\nimport 'electron';\nimport '../recorder/x.ts';\n");
    assert.deepEqual(findings, []);
  });
});
