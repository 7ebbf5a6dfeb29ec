/**
 * The part of Bitbucket's query language (`q=` and `sort=` parameters) that clients of this project
 * use: comparisons of dotted fields with strings, numbers, booleans or null, joined by AND / OR with
 * parentheses. Anything else is a 400, as in Bitbucket, rather than silently matching everything.
 */

export class QueryError extends Error {
  constructor(readonly query: string, reason: string) {
    super(`Invalid query "${query}": ${reason}`);
    this.name = 'QueryError';
  }
}

type Literal = string | number | boolean | null;
type Op = '=' | '!=' | '~' | '!~' | '>' | '>=' | '<' | '<=';
type Node = { kind: 'and' | 'or'; left: Node; right: Node } | { kind: 'cmp'; field: string; op: Op; value: Literal };
type Token = { t: 'field'; v: string } | { t: 'op'; v: Op } | { t: 'lit'; v: Literal } | { t: 'and' | 'or' | '(' | ')' };

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const ch = q[i] as string;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')') {
      out.push({ t: ch });
      i++;
    } else if (ch === '"') {
      let s = '';
      i++;
      while (i < q.length && q[i] !== '"') {
        if (q[i] === '\\' && i + 1 < q.length) i++;
        s += q[i];
        i++;
      }
      if (i >= q.length) throw new QueryError(q, 'a string is not closed with "');
      i++;
      out.push({ t: 'lit', v: s });
    } else {
      const op = /^(!=|!~|>=|<=|=|~|>|<)/.exec(q.slice(i));
      if (op) {
        out.push({ t: 'op', v: op[1] as Op });
        i += (op[1] as string).length;
        continue;
      }
      const word = /^[A-Za-z0-9_.:+-]+/.exec(q.slice(i));
      if (!word) throw new QueryError(q, `unexpected "${ch}"`);
      const w = word[0];
      i += w.length;
      const lower = w.toLowerCase();
      if (lower === 'and' || lower === 'or') out.push({ t: lower });
      else if (lower === 'true' || lower === 'false') out.push({ t: 'lit', v: lower === 'true' });
      else if (lower === 'null') out.push({ t: 'lit', v: null });
      else if (/^-?\d+(\.\d+)?$/.test(w)) out.push({ t: 'lit', v: Number(w) });
      else if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(w)) out.push({ t: 'field', v: w });
      else throw new QueryError(q, `"${w}" is neither a field nor a value (quote strings with ")`);
    }
  }
  return out;
}

export function parseQuery(q: string): Node {
  const tokens = tokenize(q);
  let pos = 0;
  const peek = () => tokens[pos];
  const expr = (): Node => {
    let left = term();
    while (peek()?.t === 'or') {
      pos++;
      left = { kind: 'or', left, right: term() };
    }
    return left;
  };
  const term = (): Node => {
    let left = factor();
    while (peek()?.t === 'and') {
      pos++;
      left = { kind: 'and', left, right: factor() };
    }
    return left;
  };
  const factor = (): Node => {
    const tok = tokens[pos++];
    if (tok?.t === '(') {
      const inner = expr();
      if (tokens[pos++]?.t !== ')') throw new QueryError(q, 'a "(" is not closed');
      return inner;
    }
    if (tok?.t !== 'field') throw new QueryError(q, 'expected a field name such as repository.full_name');
    const op = tokens[pos++];
    if (op?.t !== 'op') throw new QueryError(q, `expected an operator after ${tok.v}`);
    const value = tokens[pos++];
    if (value?.t !== 'lit') throw new QueryError(q, `expected a value after ${tok.v} ${op.v}`);
    return { kind: 'cmp', field: tok.v, op: op.v, value: value.v };
  };
  if (tokens.length === 0) throw new QueryError(q, 'it is empty');
  const node = expr();
  if (pos !== tokens.length) throw new QueryError(q, 'unexpected text after the end of the expression');
  return node;
}

function fieldValue(obj: unknown, field: string): unknown {
  let cur: unknown = obj;
  for (const part of field.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function compare(actual: unknown, op: Op, value: Literal): boolean {
  switch (op) {
    case '=':
      return (actual ?? null) === value;
    case '!=':
      return (actual ?? null) !== value;
    case '~':
    case '!~': {
      const hit = typeof actual === 'string' && typeof value === 'string' && actual.toLowerCase().includes(value.toLowerCase());
      return op === '~' ? hit : !hit;
    }
    default: {
      if (actual === null || actual === undefined || value === null) return false;
      const a = actual as string | number;
      const b = value as string | number;
      if (op === '>') return a > b;
      if (op === '>=') return a >= b;
      if (op === '<') return a < b;
      return a <= b;
    }
  }
}

function evaluate(node: Node, obj: unknown): boolean {
  if (node.kind === 'cmp') return compare(fieldValue(obj, node.field), node.op, node.value);
  if (node.kind === 'and') return evaluate(node.left, obj) && evaluate(node.right, obj);
  return evaluate(node.left, obj) || evaluate(node.right, obj);
}

/** Keeps the values matching `q` (all of them when q is null or empty). Throws QueryError. */
export function filterByQuery<T>(values: T[], q: string | null): T[] {
  if (q === null || q.trim() === '') return values;
  const node = parseQuery(q);
  return values.filter((v) => evaluate(node, v));
}

/** Orders values by `sort` (`field` ascending, `-field` descending); unchanged when absent. */
export function sortByField<T>(values: T[], sort: string | null): T[] {
  if (!sort) return values;
  const desc = sort.startsWith('-');
  const field = desc ? sort.slice(1) : sort;
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(field)) throw new QueryError(sort, 'sort takes one field name, optionally prefixed with "-"');
  const sorted = [...values].sort((x, y) => {
    const a = fieldValue(x, field);
    const b = fieldValue(y, field);
    if (a === b) return 0;
    if (a === undefined || a === null) return 1;
    if (b === undefined || b === null) return -1;
    return (a as string | number) < (b as string | number) ? -1 : 1;
  });
  return desc ? sorted.reverse() : sorted;
}
