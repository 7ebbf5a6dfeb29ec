// No import cycle in src, dev or the settings pages: the parts' dependencies point one way (design.md,
// "Layers"), and a cycle is where two parts have grown into one. Type-only imports count too: they tie
// the files together as much as any other. Dynamic `import()` does not: it is how a page loads later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TREES = ['src', 'dev', 'static/settings/src'];
const SOURCE = /\.(ts|tsx|mts)$/;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(path, out);
    else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every `import … from` and `export … from` specifier of a file, as written. */
function specifiers(path: string): string[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const statement of file.statements) {
    const from = ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement) ? statement.moduleSpecifier : undefined;
    if (from && ts.isStringLiteral(from)) out.push(from.text);
  }
  return out;
}

/** The file a relative specifier names, the way the bundlers and tsc resolve it; undefined for a package or a non-source file. */
function resolveSpecifier(from: string, specifier: string, known: ReadonlySet<string>): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier.replace(/\.(m?js|jsx)$/, ''));
  const candidates = [base, ...['.ts', '.tsx', '.mts'].map((ext) => base + ext), ...['index.ts', 'index.tsx'].map((name) => join(base, name))];
  return candidates.find((c) => known.has(c));
}

type ImportGraph = Map<string, string[]>;

function importGraph(trees: readonly string[]): ImportGraph {
  const files = trees.flatMap((tree) => sourceFiles(join(root, tree)));
  const known = new Set(files);
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const targets = specifiers(file).flatMap((s) => resolveSpecifier(file, s, known) ?? []);
    graph.set(relative(root, file), [...new Set(targets)].map((t) => relative(root, t)));
  }
  return graph;
}

/** Groups of files that reach each other (Tarjan's strongly connected components), larger than one file or a file importing itself. */
function tangles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(group);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** The shortest path from `from` to `to` inside `within`, both ends included. */
function shortestPath(graph: ImportGraph, from: string, to: string, within: ReadonlySet<string>): string[] {
  const cameFrom = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  while (queue.length) {
    const v = queue.shift() as string;
    if (v === to) break;
    for (const w of graph.get(v) ?? []) {
      if (!within.has(w) || cameFrom.has(w)) continue;
      cameFrom.set(w, v);
      queue.push(w);
    }
  }
  const path: string[] = [];
  for (let v: string | null | undefined = to; v != null; v = cameFrom.get(v)) path.unshift(v);
  return path;
}

/**
 * Each cycle named as `a -> b -> a`: for every import inside a tangle, the shortest way back, each cycle
 * once (started at its smallest file name).
 */
function importCycles(graph: ImportGraph): string[] {
  const named = new Set<string>();
  for (const group of tangles(graph)) {
    const within = new Set(group);
    for (const from of group) {
      for (const to of graph.get(from) ?? []) {
        if (!within.has(to)) continue;
        const loop = from === to ? [from] : [from, ...shortestPath(graph, to, from, within).slice(0, -1)];
        const start = loop.indexOf([...loop].sort()[0] as string);
        const turned = [...loop.slice(start), ...loop.slice(0, start)];
        named.add([...turned, turned[0]].join(' -> '));
      }
    }
  }
  return [...named].sort();
}

test('the cycle finder names each cycle, and only cycles', () => {
  const graph: ImportGraph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts', 'd.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['b.ts', 'e.ts']],
    ['e.ts', []],
    ['f.ts', ['f.ts']],
  ]);
  assert.deepEqual(importCycles(graph), ['a.ts -> b.ts -> c.ts -> a.ts', 'b.ts -> d.ts -> b.ts', 'f.ts -> f.ts']);
  assert.deepEqual(importCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
});

test('no import cycle in src, dev or the settings pages', () => {
  const graph = importGraph(TREES);
  // The graph is read at all: the backend's wiring and a page's import of the contract are in it.
  assert.ok(graph.get('src/forge/backend.ts')?.includes('src/forge/jobs/runner.ts'), 'src/forge/backend.ts imports the job runner');
  assert.ok(graph.get('static/settings/src/hooks/use-job.ts')?.includes('src/forge/contract/index.ts'), 'the pages import the contract');
  assert.ok(graph.get('dev/stack.ts')?.length, 'dev/stack.ts imports the stand-ins');
  const cycles = importCycles(graph);
  assert.deepEqual(cycles, [], `Import cycles (break each: move what both sides need below them, or hand it in):\n${cycles.join('\n')}`);
});
