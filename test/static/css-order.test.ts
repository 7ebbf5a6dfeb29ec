// The order of the design system's atomic rules in the built sheet: a shorthand must come before every
// longhand it covers, or it resets them (a `font:` after `font-weight:` made labels weigh 400).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { covers, shorthandRank, sortAtomicCss } from '../../static/settings/css-order';

const FONT = '._11c8fhey{font:var(--ds-font-body-UNSAFE_small,normal 400 9pt/1pc "Atlassian Sans",sans-serif)}';
const WEIGHT = '._1wybdlk8{font-weight:var(--ds-font-weight-bold,653)}';
const PADDING = '._ca0qidpf{padding-top:0}';
const PAD = '._1rjcu2gc{padding:var(--ds-space-100,8px)}';

test('a shorthand moves before the longhand it covers, whatever order the files were joined in', () => {
  assert.equal(sortAtomicCss(`${WEIGHT}${FONT}`), `${FONT}${WEIGHT}`);
  assert.equal(sortAtomicCss(`${PADDING}${WEIGHT}${PAD}${FONT}`), `${PAD}${FONT}${PADDING}${WEIGHT}`);
});

test('rules that do not cover each other keep their order', () => {
  const css = '._aaaaaaaa{color:red}._bbbbbbbb{display:flex}._cccccccc{font:inherit}._dddddddd{width:1px}';
  assert.equal(sortAtomicCss(css), css);
  assert.equal(sortAtomicCss(`${FONT}${WEIGHT}`), `${FONT}${WEIGHT}`, 'an already sorted sheet is left alone');
});

test('other rules keep their places; atomic rules inside an at-rule are sorted within it', () => {
  const reset = 'html{font-family:sans-serif}';
  const media = `@media (min-width:30rem){${WEIGHT}${FONT}}`;
  const css = `${reset}${WEIGHT}@import "x.css";${media}${FONT}.plain{font:bold 1px a}`;
  assert.equal(sortAtomicCss(css), `${reset}${FONT}@import "x.css";@media (min-width:30rem){${FONT}${WEIGHT}}${WEIGHT}.plain{font:bold 1px a}`);
});

test('braces in strings and comments do not split a rule', () => {
  const quoted = '._eeeeeeee::after{content:"}{"}';
  const css = `/* { */${WEIGHT}${quoted}${FONT}`;
  assert.equal(sortAtomicCss(css), `/* { */${FONT}${quoted}${WEIGHT}`);
});

test('pseudo-class atomic rules are ordered by their property too', () => {
  const hover = '._irr31gf0:hover{border-color:red}';
  const border = '._1h6d1l7x{border:1px solid blue}';
  assert.equal(sortAtomicCss(`${hover}${border}`), `${border}${hover}`);
});

test('which shorthand covers which longhand', () => {
  const pairs: [string, string][] = [
    ['font', 'font-weight'],
    ['font', 'line-height'],
    ['border', 'border-block-start-color'],
    ['border-block', 'border-block-start'],
    ['border-color', 'border-top-color'],
    ['border-radius', 'border-top-left-radius'],
    ['padding', 'padding-inline-start'],
    ['inset', 'top'],
    ['gap', 'row-gap'],
    ['flex-flow', 'flex-wrap'],
    ['place-items', 'align-items'],
  ];
  for (const [shorthand, longhand] of pairs) {
    assert.ok(covers(shorthand, longhand), `${shorthand} covers ${longhand}`);
    assert.ok(shorthandRank(shorthand) < shorthandRank(longhand), `${shorthand} ranks before ${longhand}`);
  }
  assert.equal(covers('font-weight', 'font'), false);
  assert.equal(covers('color', 'color'), false);
  assert.equal(covers('margin', 'padding-top'), false);
});
