// Lint: typescript-eslint's recommended rules on the sources, tests and benchmarks (tsc checks the types).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'prebuilds/', 'node_modules/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A variable assigned once but read by closures created before that (the node's late-bound parts).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Plain CommonJS scripts that run before (or without) the TypeScript build.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', __dirname: 'readonly', require: 'readonly', module: 'readonly', setTimeout: 'readonly', setImmediate: 'readonly', setInterval: 'readonly', clearTimeout: 'readonly', clearInterval: 'readonly', clearImmediate: 'readonly' } },
  },
);
