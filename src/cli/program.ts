import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAudit } from './commands/audit';
import { registerCheck } from './commands/check';
import { registerDoctor } from './commands/doctor';
import { registerKeygen } from './commands/keygen';
import { registerWorkflows } from './commands/workflows';
import { addHelp } from './help';
import { processScreens } from './screen';

function packageVersion(): string {
  // Runs from src/cli/ (tsx) and from dist/ (installed): look upwards for our package.json.
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'valohai-bitbucket' && pkg.version) return pkg.version;
    } catch {
      // not here; keep looking
    }
  }
  return '0.0.0';
}

/** The `valohai-bitbucket` command tree. Usage errors exit with status 2. */
export function buildProgram(): Command {
  const screens = processScreens();
  const program = new Command('valohai-bitbucket')
    .description('Connect private Bitbucket Cloud repositories to Valohai with SSH access keys.')
    .version(packageVersion(), '-V, --version')
    // Usage errors quote what was typed: they go through the screen like everything else.
    .configureOutput({ writeOut: (text) => screens.stdout.write(text), writeErr: (text) => screens.stderr.write(text) })
    .showHelpAfterError()
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exit(0);
      }
      process.exit(2);
    });
  registerKeygen(program);
  registerWorkflows(program);
  registerCheck(program);
  registerAudit(program);
  registerDoctor(program);
  addHelp(program);
  return program;
}
