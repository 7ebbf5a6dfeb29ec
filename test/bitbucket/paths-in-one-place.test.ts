/**
 * One place per outside system: Bitbucket's API paths are spelled only in src/bitbucket. Every string
 * literal and template in the rest of src is read with the TypeScript parser (comments and prose do not
 * count), and one that starts like a Bitbucket API path fails the test with its file and line.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');
const HOME = join(SRC, 'bitbucket');

/** `/repositories`, `/workspaces` or `/user`, then the end, a `/`, a query or a template's substitution. */
const API_PATH = /^\/(?:repositories|workspaces|user)(?:[/?]|$)/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path === HOME ? [] : sourceFiles(path);
    return /\.(?:ts|tsx|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Each literal's text (a template's head: what a path would start with) and its 1-based line. */
function literalsIn(fileName: string, text: string): { text: string; line: number }[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found: { text: string; line: number }[] = [];
  const visit = (node: ts.Node): void => {
    let literal: string | undefined;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) literal = node.text;
    else if (ts.isTemplateExpression(node)) literal = node.head.text;
    if (literal !== undefined) found.push({ text: literal, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function bitbucketPathsIn(fileName: string, text: string): string[] {
  return literalsIn(fileName, text)
    .filter((l) => API_PATH.test(l.text))
    .map((l) => `${fileName}:${l.line}: ${JSON.stringify(l.text.length > 60 ? `${l.text.slice(0, 60)}…` : l.text)}`);
}

describe('Bitbucket API paths live in src/bitbucket only', () => {
  it('finds paths in literals and templates, not in comments or other text', () => {
    const sample = [
      "// GET /repositories/{workspace} is described here",
      "const a = '/repositories/acme';",
      'const b = `/user/workspaces/${ws}/permission`;',
      'const c = `/repositories${rest}`;',
      "const d = \"/user\";",
      "const e = '/users/me'; const f = 'https://bitbucket.org/workspaces/x'; const g = '/api/v0/repositories/';",
      'const h = `/workspaces/${ws}/permissions?q=${q}`;',
    ].join('\n');
    assert.deepEqual(bitbucketPathsIn('sample.ts', sample), [
      'sample.ts:2: "/repositories/acme"',
      'sample.ts:3: "/user/workspaces/"',
      'sample.ts:4: "/repositories"',
      'sample.ts:5: "/user"',
      'sample.ts:7: "/workspaces/"',
    ]);
  });

  it('no file of src outside src/bitbucket spells one', () => {
    const files = sourceFiles(SRC);
    assert.ok(files.length > 50, `only ${files.length} source files found under src`);
    const offenders = files.flatMap((file) => bitbucketPathsIn(relative(ROOT, file).split(sep).join('/'), readFileSync(file, 'utf8')));
    assert.deepEqual(offenders, [], `Bitbucket API paths outside src/bitbucket (move the request into src/bitbucket):\n${offenders.join('\n')}`);
  });
});
