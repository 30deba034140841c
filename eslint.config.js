// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { readdirSync } from 'node:fs';

/*
 * Area boundaries. An area is a folder directly under backend/src; the files beside them (config.ts,
 * errors.ts, runtime.ts, main.ts, cli.ts, ...) are the composition root and shared kernel. Product code
 * reaches another area only through that area's index.ts, so an area's internal files can move without
 * touching its callers; and only server/ itself and the composition root import server/, so the domain
 * never depends on HTTP. Tests may reach into internals (see the block that turns this off for them).
 *
 * no-restricted-imports sees only the import string, so the patterns are anchored by the importing
 * file's depth: from backend/src/<area>/x.ts another area is `../<other>/`, one folder deeper it is
 * `../../<other>/`, and from the composition root it is `./<other>/`.
 */
const areas = readdirSync(new URL('./backend/src/', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

/** Restricted-import patterns for a file `depth` folders below backend/src that belongs to `area`. */
function areaImportPatterns(depth, area) {
  const up = depth === 0 ? '\\./' : '(\\.\\./){' + depth + '}';
  const others = areas.filter((name) => name !== area);
  const patterns = [
    {
      regex: `^${up}(${others.join('|')})/(?!index\\.ts$)`,
      message: 'Import another area only through its index.ts (export what you need there, named exports only).',
    },
  ];
  if (area !== undefined && area !== 'server') {
    patterns.push({
      regex: `^${up}server/`,
      message: 'The domain never imports server/: only server/ itself and the composition root (runtime.ts, main.ts) do.',
    });
  }
  return patterns;
}

const boundaries = [
  { files: ['backend/src/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: areaImportPatterns(0, undefined) }] } },
  ...areas.flatMap((area) =>
    [1, 2, 3].map((depth) => ({
      files: [`backend/src/${area}/${'*/'.repeat(depth - 1)}*.ts`],
      rules: { 'no-restricted-imports': ['error', { patterns: areaImportPatterns(depth, area) }] },
    })),
  ),
  {
    // Tests may reach into an area's internals to set up and observe it.
    files: ['**/*.test.ts', 'backend/test/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The console imports backend code only deliberately. tool-pattern.ts is a pure file kept out of
    // tools/index.ts so that the console bundle does not pull in the rest of the tools area. From the
    // events index it takes types only (the event union its frames are typed by): `import type` is
    // erased from the bundle, a value import would drag the event store and the database into it.
    files: ['web/src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '/backend/src/(?!tools/tool-pattern\\.ts$|events/index\\.ts$)',
              message:
                'The console imports backend code only where it is pure and deliberate (tools/tool-pattern.ts), and types from events/index.ts.',
            },
            {
              regex: '/backend/src/events/index\\.ts$',
              allowTypeImports: true,
              message: 'The console takes only types from the events index: use `import type`, so no backend code reaches the bundle.',
            },
          ],
        },
      ],
    },
  },
  {
    // The script client is a package of its own: from the server it takes the event union's types
    // only (erased at run time); its API types are its generated copy, src/api-schema.ts.
    files: ['clients/ts/src/**/*.ts', 'clients/ts/examples/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '/backend/src/(?!events/index\\.ts$)', message: 'The client takes only types from backend/src/events/index.ts.' },
            {
              regex: '/backend/src/events/index\\.ts$',
              allowTypeImports: true,
              message: 'The client takes only types from the events index: use `import type`.',
            },
          ],
        },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'coverage/', 'web/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.object.name='process'][object.property.name='env'][property.name='NODE_ENV']",
          message: 'Product code must not branch on NODE_ENV.',
        },
      ],
    },
  },
  {
    // The console runs in browsers.
    files: ['web/src/**/*.{ts,tsx}'],
    languageOptions: {
      globals: globals.browser,
    },
  },
  ...boundaries,
);
