import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The floors between the parts (design.md, "Rules worth keeping", 8). Imports are relative, so each floor
// is a pattern on where a path lands: `../../forge/contract` from src/cli/commands lands in src/forge.
const floor = (parts, message) => ({ regex: `^(\\.\\./)+(${parts})(/|$)`, message });
const NO_ADAPTER = floor('forge|cli', 'The engine and the clients never import an adapter (src/forge, src/cli): hand them a port instead.');
const NO_FORGE = floor('forge', 'The CLI and the Forge app are siblings: what both need lives below them (src/connect, src/git, ...).');
const NO_CLI = floor('cli', 'The CLI and the Forge app are siblings: what both need lives below them (src/connect, src/git, ...).');
const NO_STAND_IN = floor('dev|test', 'src/ never imports dev/ or test/: they stand in for the outside world, and src/ ships without them.');
// The engine has three more doors: connect/types.ts, types only, which the pages' type check reads without
// the engine (static/settings/tsconfig.json); connect/key-age.ts, the key-age rule the pages bundle through
// the contract (it imports nothing); and connect/audit.ts, the whole-workspace audit only the CLI
// runs (the Forge app audits page by page), kept out of what the backend's imports reach. The clients have
// two: bitbucket/account.ts, constants only (API root, token page, scopes), and valohai/host.ts, the rule for
// a Valohai host, which the pages bundle without the clients. src/http has no index: its files are imported one by one.
const THROUGH_INDEX = [
  { regex: '^(\\.\\./)+(bitbucket/(?!(index|account)$)|valohai/(?!(index|host)$)|(ssh|git)/(?!index$))', message: "Import another package through its index.ts ('../bitbucket/index'), not one of its files." },
  { regex: '^(\\.\\./)+connect/(?!(index|types|audit|key-age)$)', message: "Import the engine through its index.ts ('../connect/index'), not one of its files." },
];
const floors = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'static/*/build*/**', 'bench/results/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly',
        setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
        fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly',
        TextDecoder: 'readonly', Response: 'readonly', Request: 'readonly', Headers: 'readonly',
        structuredClone: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/connect/**', 'src/bitbucket/**', 'src/valohai/**', 'src/ssh/**', 'src/git/**', 'src/http/**'],
    rules: floors(NO_ADAPTER, NO_STAND_IN, ...THROUGH_INDEX),
  },
  { files: ['src/cli/**'], rules: floors(NO_FORGE, NO_STAND_IN, ...THROUGH_INDEX) },
  { files: ['src/forge/**'], rules: floors(NO_CLI, NO_STAND_IN, ...THROUGH_INDEX) },
);
