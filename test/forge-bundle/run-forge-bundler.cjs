'use strict';
// Forge's bundler refuses to run unless the process's main module is CommonJS (`require.main`), as
// Forge's CLI is; this file is that main module, and the work is in run-forge-bundler.ts.
import('./run-forge-bundler.ts').catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
