import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: ['**/dist', '**/node_modules', '**/.nx', 'libs/proto/src/gen/**', '**/*.mjs', '**/*.mts', '**/vitest.config.*'],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // noUncheckedIndexedAccess makes `!` the honest way to say "checked above".
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name=/^(it|test|describe)$/][callee.property.name='only']", message: '.only is forbidden: CI would run a subset.' },
      ],
      // Apps are never imported: the Nx rule only sees projects reachable through tsconfig paths,
      // so the app package names are banned here too.
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@laneway/control-plane*', '@laneway/server*', '@laneway/cli*', '@laneway/e2e*'], message: 'apps are not libraries: move shared code to libs/' }] },
      ],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:proto'] },
            { sourceTag: 'type:app', notDependOnLibsWithTags: ['scope:testing'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:proto'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib', 'type:proto'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:proto'] },
            { sourceTag: 'type:proto', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'scope:server', notDependOnLibsWithTags: ['scope:control-plane', 'scope:cli'] },
            { sourceTag: 'scope:control-plane', notDependOnLibsWithTags: ['scope:server', 'scope:cli'] },
            { sourceTag: 'scope:cli', notDependOnLibsWithTags: ['scope:server', 'scope:control-plane'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
          ],
          banTransitiveDependencies: false,
        },
      ],
    },
  },
  {
    files: ['libs/sdk/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['kysely', 'bullmq', 'ioredis', 'pg', 'better-sqlite3', '@grpc/grpc-js'],
          patterns: [{ group: ['@laneway/*'], message: 'the SDK depends on nothing of ours' }],
        },
      ],
    },
  },
];
