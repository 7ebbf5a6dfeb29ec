/**
 * The design system's styles are atomic classes (one declaration each, from Compiled), shipped as one
 * `.compiled.css` file per component. Vite joins those files in import order, so a shorthand can land
 * after a longhand it covers: `._x{font:var(--ds-font-body)}` after `._y{font-weight:653}` resets the
 * weight of every label and table header to the body's 400. Compiled's own bundler plugins sort the
 * joined sheet so shorthands come first; this does the same for Vite's output, with no dependency.
 *
 * Only atomic rules (a `._hash` selector, one declaration) move, and only among the places atomic rules
 * already held; every other rule, and every at-rule block, stays where it was (atomic rules inside an
 * at-rule block are sorted within it). The sort is stable: rules that do not cover each other keep
 * their order.
 */
import type { Plugin } from 'vite';

/** Shorthand properties, each covering the longhands `covers` finds (and those covering them, deeper). */
const SHORTHANDS = new Set([
  'animation',
  'background',
  'border',
  'border-block',
  'border-block-start',
  'border-block-end',
  'border-block-color',
  'border-block-style',
  'border-block-width',
  'border-inline',
  'border-inline-start',
  'border-inline-end',
  'border-inline-color',
  'border-inline-style',
  'border-inline-width',
  'border-top',
  'border-right',
  'border-bottom',
  'border-left',
  'border-color',
  'border-style',
  'border-width',
  'border-radius',
  'border-image',
  'column-rule',
  'columns',
  'flex',
  'flex-flow',
  'font',
  'font-variant',
  'gap',
  'grid',
  'grid-area',
  'grid-column',
  'grid-row',
  'grid-template',
  'inset',
  'inset-block',
  'inset-inline',
  'list-style',
  'margin',
  'margin-block',
  'margin-inline',
  'mask',
  'outline',
  'overflow',
  'overscroll-behavior',
  'padding',
  'padding-block',
  'padding-inline',
  'place-content',
  'place-items',
  'place-self',
  'scroll-margin',
  'scroll-margin-block',
  'scroll-margin-inline',
  'scroll-padding',
  'scroll-padding-block',
  'scroll-padding-inline',
  'text-decoration',
  'text-emphasis',
  'transition',
]);

/** Longhands a shorthand sets that do not start with its own name. */
const EXTRA: Record<string, (property: string) => boolean> = {
  font: (p) => p === 'line-height',
  'border-color': (p) => /^border-[a-z-]+-color$/.test(p),
  'border-style': (p) => /^border-[a-z-]+-style$/.test(p),
  'border-width': (p) => /^border-[a-z-]+-width$/.test(p),
  'border-block-color': (p) => /^border-block-(start|end)-color$/.test(p),
  'border-block-style': (p) => /^border-block-(start|end)-style$/.test(p),
  'border-block-width': (p) => /^border-block-(start|end)-width$/.test(p),
  'border-inline-color': (p) => /^border-inline-(start|end)-color$/.test(p),
  'border-inline-style': (p) => /^border-inline-(start|end)-style$/.test(p),
  'border-inline-width': (p) => /^border-inline-(start|end)-width$/.test(p),
  'border-radius': (p) => /^border-[a-z-]+-radius$/.test(p),
  columns: (p) => p === 'column-count' || p === 'column-width',
  'flex-flow': (p) => p === 'flex-direction' || p === 'flex-wrap',
  gap: (p) => p === 'row-gap' || p === 'column-gap',
  'grid-area': (p) => /^grid-(row|column)(-start|-end)?$/.test(p),
  inset: (p) => ['top', 'right', 'bottom', 'left'].includes(p),
  'place-content': (p) => p === 'align-content' || p === 'justify-content',
  'place-items': (p) => p === 'align-items' || p === 'justify-items',
  'place-self': (p) => p === 'align-self' || p === 'justify-self',
};

/** Whether setting `shorthand` also sets `property`. */
export function covers(shorthand: string, property: string): boolean {
  if (shorthand === property || !SHORTHANDS.has(shorthand)) return false;
  return property.startsWith(`${shorthand}-`) || (EXTRA[shorthand]?.(property) ?? false);
}

/** How many shorthands cover a property: a shorthand always ranks below every longhand it covers. */
export function shorthandRank(property: string): number {
  let rank = 0;
  for (const shorthand of SHORTHANDS) if (covers(shorthand, property)) rank += 1;
  return rank;
}

interface Block {
  text: string;
  /** The declared property, for an atomic rule; null for anything else. */
  atomicProperty: string | null;
}

const ATOMIC = /^\._[a-z0-9]{8}[^{},]*\{\s*(-?[a-z][a-z-]*)\s*:[^;{}]*;?\s*\}$/;

/** Splits a sheet into its top-level statements, braces inside strings and comments ignored. */
function statements(css: string): string[] {
  const out: string[] = [];
  let start = 0;
  let depth = 0;
  for (let i = 0; i < css.length; i++) {
    const c = css[i];
    if (c === '"' || c === "'") {
      const end = css.indexOf(c, i + 1);
      i = end === -1 ? css.length : end;
    } else if (c === '/' && css[i + 1] === '*') {
      const end = css.indexOf('*/', i + 2);
      const after = end === -1 ? css.length : end + 2;
      // A comment between rules is a statement of its own: it stays put when the next rule moves.
      if (depth === 0 && css.slice(start, i).trim() === '') {
        if (i > start) out.push(css.slice(start, i));
        out.push(css.slice(i, after));
        start = after;
      }
      i = after - 1;
    } else if (c === '{') {
      depth += 1;
    } else if (c === '}') {
      depth -= 1;
      if (depth === 0) {
        out.push(css.slice(start, i + 1));
        start = i + 1;
      }
    } else if (c === ';' && depth === 0) {
      out.push(css.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < css.length) out.push(css.slice(start));
  return out;
}

/** Sorts one sheet (or an at-rule's body): shorthand atomic rules before the longhands they cover. */
export function sortAtomicCss(css: string): string {
  const blocks: Block[] = statements(css).map((text) => {
    const trimmed = text.trim();
    if (trimmed.startsWith('@') && trimmed.endsWith('}')) {
      const open = text.indexOf('{');
      const close = text.lastIndexOf('}');
      return { text: `${text.slice(0, open + 1)}${sortAtomicCss(text.slice(open + 1, close))}${text.slice(close)}`, atomicProperty: null };
    }
    return { text, atomicProperty: ATOMIC.exec(trimmed)?.[1] ?? null };
  });
  const atomic = blocks.filter((b) => b.atomicProperty !== null);
  const ranked = atomic
    .map((block, index) => ({ block, index, rank: shorthandRank(block.atomicProperty ?? '') }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map((r) => r.block);
  let next = 0;
  return blocks.map((b) => (b.atomicProperty === null ? b.text : (ranked[next++] as Block).text)).join('');
}

/** The Vite plugin: every CSS file of the build, sorted as above. */
export function atomicCssOrder(): Plugin {
  return {
    name: 'atomic-css-order',
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type === 'asset' && file.fileName.endsWith('.css')) {
          file.source = sortAtomicCss(typeof file.source === 'string' ? file.source : new TextDecoder().decode(file.source));
        }
      }
    },
  };
}
