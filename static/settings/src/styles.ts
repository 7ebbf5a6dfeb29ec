import { xcss } from '@atlaskit/primitives';

/**
 * A section of a settings page as Bitbucket draws its own: flat on the page, a rule above its heading
 * to part it from the one before, no border box, no shadow, no surface of its own.
 */
export const sectionStyles = xcss({
  paddingBlockStart: 'space.300',
  borderBlockStartWidth: 'border.width',
  borderBlockStartStyle: 'solid',
  borderBlockStartColor: 'color.border',
});

export const pageStyles = xcss({ maxWidth: '960px' });

/** Single-line fields, and forms of them, read best at a bounded width. */
export const fieldStyles = xcss({ maxWidth: '480px' });
export const formStyles = fieldStyles;
