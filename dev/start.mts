/**
 * `npm start`: the local preview. The stand-ins with the demo seed, the app's backend over them, and
 * the settings pages framed as Bitbucket frames them, at the address printed below. Also prints how
 * to point the CLI at the same stand-ins. Stops cleanly on Ctrl-C.
 */
import { fileURLToPath } from 'node:url';
import { startPreview } from './preview/server';
import { demoBitbucketCredentials } from './seed/index';
import { demoValohaiCredentials } from './valohai/index';

const buildDir = fileURLToPath(new URL('../static/settings/build-preview/', import.meta.url));
const port = process.env.PORT ? Number(process.env.PORT) : 0;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number (0-65535), not "${process.env.PORT}".`);
  process.exit(2);
}

const preview = await startPreview({
  buildDir,
  port,
  echoLog: (line) => console.log(`[app ${line.level}] ${line.message}${Object.keys(line.fields).length ? ` ${JSON.stringify(line.fields)}` : ''}`),
}).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
const { stack } = preview;
const env = Object.entries(stack.env)
  .map(([k, v]) => `export ${k}=${v}`)
  .join('\n');

console.log(`Valohai access for Bitbucket: the local preview is running.

  Open  ${preview.pageUrl({ repository: 'ml-models' })}

  1. Workspace settings > Valohai: paste the Valohai token ${demoValohaiCredentials.admin.token}
     and the Bitbucket API token ${demoBitbucketCredentials.admin.token} of ${demoBitbucketCredentials.admin.email}.
     (Leave the Bitbucket token out to try the manual mode: the key is added by hand on each
     repository's Access keys page.)
  2. acme/ml-models > Repository settings > Valohai: choose project ${demoValohaiCredentials.project.owner}/${demoValohaiCredentials.project.name} and connect.
  3. "Push a commit" in the yellow bar: Valohai fetches it. "Act as" switches to someone who is not an admin.

Stand-ins (the Valohai stand-in answers for https://app.valohai.com):
  Bitbucket API   ${stack.bitbucket.url}
  SSH git host    ${stack.ssh.host}:${stack.ssh.port} (serves git@bitbucket.org:<workspace>/<repo>.git)
  Valohai API     ${stack.valohai.apiUrl}

The CLI against the same stand-ins, from another terminal:

${env}
export VALOHAI_BITBUCKET_STATE_DIR=$(mktemp -d)
npx valohai-bitbucket connect acme/ml-models --project acme/ml-models

Press Ctrl-C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await preview.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
