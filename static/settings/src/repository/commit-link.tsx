import { commitUrl } from '../../../../src/forge/contract';
import { shortSha } from '../format';
import { ExternalLink } from '../components/link';

/** A commit as Bitbucket shows it: its short id, linked to the commit's page. */
export function CommitLink({ repository, sha }: { repository: string; sha: string | null | undefined }) {
  const [workspace, slug] = repository.split('/');
  if (!sha || !workspace || !slug || !/^[0-9a-f]{7,64}$/i.test(sha)) return <code>{shortSha(sha)}</code>;
  return (
    <ExternalLink href={commitUrl(workspace, slug, sha)}>
      <code>{shortSha(sha)}</code>
    </ExternalLink>
  );
}
