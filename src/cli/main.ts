#!/usr/bin/env node
import { buildProgram } from './program';
import { processScreens } from './screen';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // Commands report their own failures; anything reaching here is unexpected, but still no stack trace.
    processScreens().stderr.write(`valohai-bitbucket: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
