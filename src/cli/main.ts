#!/usr/bin/env node
import { buildProgram } from './program';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // Commands report their own failures; anything reaching here is unexpected, but still no stack trace.
    process.stderr.write(`valohai-bitbucket: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
