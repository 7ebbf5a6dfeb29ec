/**
 * `npm start`: the local stand-ins with the demo seed, and how to point the CLI at them.
 * Stops cleanly on Ctrl-C.
 */
import { startStack } from './stack.js';
import { demoBitbucketCredentials } from './seed/index.js';
import { demoValohaiCredentials } from './valohai/index.js';

const stack = await startStack();
const env = Object.entries(stack.env)
  .map(([k, v]) => `export ${k}=${v}`)
  .join('\n');
console.log(`Valohai access for Bitbucket: local stand-ins are running.

  Bitbucket API   ${stack.bitbucket.url}
  SSH git host    ${stack.ssh.host}:${stack.ssh.port} (serves git@bitbucket.org:<workspace>/<repo>.git)
  Valohai API     ${stack.valohai.apiUrl}

Demo: Bitbucket workspace "${demoBitbucketCredentials.workspace}" (repository acme/ml-models with submodules),
Valohai project "${demoValohaiCredentials.project.owner}/${demoValohaiCredentials.project.name}". Demo tokens:
  Bitbucket  ${demoBitbucketCredentials.admin.email} / ${demoBitbucketCredentials.admin.token}
  Valohai    ${demoValohaiCredentials.admin.token}

Use the CLI against them from another terminal:

${env}
export VALOHAI_BITBUCKET_STATE_DIR=$(mktemp -d)
npx valohai-bitbucket connect acme/ml-models --project acme/ml-models

Press Ctrl-C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await stack.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
