// ESLint flat config for Custody.
//
// Two jobs:
//  1. Type-aware checks from typescript-eslint (recommendedTypeChecked), tuned to catch bugs —
//     unawaited promises, unsafe `any`, non-exhaustive switches — and not to argue about style.
//  2. The layering of ARCHITECTURE.md ("Layout"), so that it cannot rot silently: which top-level
//     folder may import which, who may import `electron`, and which folders must stay free of
//     Node or DOM APIs. Each folder gets one `no-restricted-imports` entry, built from the table
//     `layers` below; `no-restricted-globals` covers what an import rule cannot see (`process`,
//     `window`, …). scripts/lint-layering.test.ts proves the rule fires.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const SOURCE_FILES = ['**/*.{ts,tsx,mts,cts,js,mjs,cjs}'];
const TYPESCRIPT_FILES = ['**/*.{ts,tsx,mts,cts}'];
const JAVASCRIPT_FILES = ['**/*.{js,mjs,cjs}'];
// ARCHITECTURE.md: `test/` and `bench/` may import anything; unit tests sit beside their module.
const MAY_IMPORT_ANYTHING = ['**/*.test.{ts,tsx}', 'test/**', 'bench/**'];

// ---------------------------------------------------------------------------------------------
// Restrictions. Each is a `no-restricted-imports` pattern ({ regex, message }) and is also applied
// to literal dynamic `import('…')`, which `no-restricted-imports` does not look at.

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `node:fs`, `fs`, `fs/promises`, … — every module Node ships, with or without the prefix. */
const nodeBuiltins = (why) => ({
  regex: `^(?:node:|(?:${builtinModules.map(escapeRegExp).join('|')})(?:/|$))`,
  caseSensitive: true,
  message: why,
});

const electronModule = {
  regex: '^electron(?:/|$)',
  caseSensitive: true,
  message:
    'Only electron/main, electron/preload and electron/platform import `electron`; everything ' +
    'else stays plain Node so that it runs in tests, the CLI and the browser host (ARCHITECTURE.md).',
};

/**
 * A relative import that climbs out of the current top-level folder into one of `folders`
 * (`../recorder/x.ts`, `../../server/y.ts`). Relative paths are all we have: the project has no
 * path aliases or workspace packages, so this is how one top-level folder reaches another.
 */
const ourFolders = (folders, why) => ({
  regex: `^(?:\\./)?(?:\\.\\./)+(?:${folders.join('|')})(?:/|$)`,
  caseSensitive: true,
  message: why,
});

const NODE_GLOBALS = ['process', 'Buffer', '__dirname', '__filename', 'require', 'module', 'exports', 'global', 'setImmediate', 'clearImmediate'];
const DOM_GLOBALS = ['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'location'];

// ---------------------------------------------------------------------------------------------
// The layering, one entry per folder (ARCHITECTURE.md, "Layout"). Later entries win for files
// that match several (flat config merges per rule by replacing options), so each entry lists
// every restriction that applies to its folder, and `electron/{main,preload,platform}` comes
// after `electron/`.

const everywhere = { files: SOURCE_FILES, imports: [electronModule], globals: [] };

const layers = [
  everywhere,
  {
    files: ['shared/**'],
    imports: [
      nodeBuiltins('shared/ runs in Node and in the browser: no Node builtins. Take bytes and values as arguments, or use a pure package (fflate, @noble/*).'),
      electronModule,
      ourFolders(['recorder', 'electron', 'server', 'renderer', 'cli', 'bench', 'test', 'node-adapters'], 'shared/ imports nothing of ours outside shared/ (ARCHITECTURE.md); everything else imports shared/.'),
    ],
    globals: [...NODE_GLOBALS, ...DOM_GLOBALS].map((name) => ({
      name,
      message: `shared/ runs in Node and in the browser: no \`${name}\`. Take what you need as an argument.`,
    })),
  },
  {
    files: ['renderer/**'],
    imports: [
      nodeBuiltins('renderer/ is the sandboxed browser UI: no Node. Ask main through the `window.custody` bridge (contract in shared/).'),
      electronModule,
      ourFolders(['recorder', 'server', 'electron', 'cli', 'node-adapters'], 'renderer/ imports only shared/; it reaches main through the `window.custody` bridge.'),
    ],
    globals: NODE_GLOBALS.map((name) => ({
      name,
      message: `renderer/ is sandboxed, without Node: no \`${name}\`.`,
    })),
  },
  {
    files: ['node-adapters/**'],
    imports: [
      electronModule,
      ourFolders(['recorder', 'electron', 'server', 'renderer', 'cli'], 'node-adapters/ implements shared/ ports on Node builtins and imports only shared/.'),
    ],
    globals: [],
  },
  {
    files: ['recorder/**'],
    imports: [
      electronModule,
      ourFolders(['renderer', 'electron', 'server', 'cli'], 'recorder/ is its own process and imports only shared/ and node-adapters/ (ARCHITECTURE.md).'),
    ],
    globals: [],
  },
  {
    files: ['cli/**', 'bin/**'],
    imports: [
      electronModule,
      ourFolders(['renderer', 'electron', 'server'], 'cli/ is the `custody` command: it imports shared/ and recorder/ only (docs/architecture.md).'),
    ],
    globals: [],
  },
  {
    files: ['server/**'],
    imports: [
      electronModule,
      ourFolders(['renderer', 'electron', 'recorder', 'cli'], 'server/ is a separate deployable and imports only shared/ and node-adapters/ (ARCHITECTURE.md).'),
    ],
    globals: [],
  },
  {
    files: ['electron/**'],
    imports: [
      electronModule,
      ourFolders(['renderer', 'server', 'cli'], 'electron/ imports shared/ and the recorder protocol; the renderer is reached over the bridge, the server over HTTPS.'),
    ],
    globals: [],
  },
  {
    files: ['electron/main/**', 'electron/preload/**', 'electron/platform/**'],
    imports: [
      ourFolders(['renderer', 'server', 'cli'], 'electron/ imports shared/ and the recorder protocol; the renderer is reached over the bridge, the server over HTTPS.'),
    ],
    globals: [],
  },
];

// ---------------------------------------------------------------------------------------------
// `no-restricted-imports` covers `import`/`export … from`; this covers `import('literal')`.

const noRestrictedDynamicImport = {
  meta: {
    type: 'problem',
    docs: { description: 'Apply the layering patterns to dynamic import() with a literal specifier.' },
    schema: {
      type: 'array',
      items: {
        type: 'object',
        properties: { regex: { type: 'string' }, caseSensitive: { type: 'boolean' }, message: { type: 'string' } },
        required: ['regex', 'message'],
      },
    },
  },
  create(context) {
    const restrictions = context.options.map(({ regex, caseSensitive, message }) => ({
      pattern: new RegExp(regex, caseSensitive ? 'u' : 'iu'),
      message,
    }));
    return {
      ImportExpression(node) {
        const { source } = node;
        const specifier =
          source.type === 'Literal' && typeof source.value === 'string' ? source.value
          : source.type === 'TemplateLiteral' && source.expressions.length === 0 ? source.quasis[0].value.cooked
          : undefined;
        if (specifier === undefined) return;
        const hit = restrictions.find(({ pattern }) => pattern.test(specifier));
        if (hit) context.report({ node: source, message: `'${specifier}' import is restricted. ${hit.message}` });
      },
    };
  },
};

const layeringConfigs = layers.map(({ files, imports, globals: restrictedGlobals }) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: imports }],
    'custody/no-restricted-dynamic-import': ['error', ...imports],
    'no-restricted-globals': ['error', ...restrictedGlobals],
    // `globalThis.process` is the same global by another path.
    'no-restricted-properties': [
      'error',
      ...restrictedGlobals.map(({ name, message }) => ({ object: 'globalThis', property: name, message })),
    ],
  },
}));

export default defineConfig(
  globalIgnores([
    '.scratch/',
    'dist/',
    'out/',
    'release/',
    'coverage/',
    '.test-results/',
    'test-results/',
    'playwright-report/',
    '.custody-home/',
    '**/*.d.ts',
  ]),

  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { custody: { rules: { 'no-restricted-dynamic-import': noRestrictedDynamicImport } } },
  },

  {
    files: SOURCE_FILES,
    extends: [js.configs.recommended],
  },

  {
    files: TYPESCRIPT_FILES,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test()/describe() return promises the runner already tracks.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      // State is unions keyed on `kind` (STYLE.md); a missed case is a bug. A default branch
      // (with `satisfies never`) counts as handled.
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      // `return promise` inside try/catch skips the catch; elsewhere it is fine either way.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // With verbatimModuleSyntax, `import { type A }` keeps an empty side-effect import.
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Plug-in interfaces (storage, upload targets) are async; a synchronous implementation
      // of one is not a bug.
      '@typescript-eslint/require-await': 'off',
    },
  },

  {
    files: JAVASCRIPT_FILES,
    languageOptions: { globals: globals.node },
  },

  ...layeringConfigs,

  {
    files: MAY_IMPORT_ANYTHING,
    rules: {
      'no-restricted-imports': 'off',
      'custody/no-restricted-dynamic-import': 'off',
      'no-restricted-globals': 'off',
      'no-restricted-properties': 'off',
    },
  },
);
