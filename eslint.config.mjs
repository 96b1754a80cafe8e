import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'dist-dev/', '.cache/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  { files: ['**/*.js', '**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    // client-node loads every generated API and model (~0.5 s and ~60 MiB at start): the manager uses its types, and
    // its KubeConfig only through kube-connection.ts's dynamic import, as the fallback for what the manager's own
    // loader does not implement. Tests and scripts may use it freely. class-validator's index is as eager (every
    // validator, libphonenumber-js): src takes the decorators it uses from their own files, in config/class-validator.ts.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@kubernetes/client-node',
              allowTypeImports: true,
              message:
                'Import only types from client-node in src (import { type X }); requests go through kube/kube-http.ts.',
            },
            {
              name: 'class-validator',
              allowTypeImports: true,
              message:
                'Import class-validator through src/config/class-validator.ts: the package index loads every validator at start.',
            },
          ],
        },
      ],
    },
  },
);
