import { xcss } from '@atlaskit/primitives';

/** A bordered panel on the page surface, like Bitbucket's own settings sections. */
export const sectionStyles = xcss({
  padding: 'space.300',
  borderRadius: 'radius.medium',
  borderWidth: 'border.width',
  borderStyle: 'solid',
  borderColor: 'color.border',
  backgroundColor: 'elevation.surface',
});

export const pageStyles = xcss({ maxWidth: '960px' });

/** Single-line fields, and forms of them, read best at a bounded width. */
export const fieldStyles = xcss({ maxWidth: '480px' });
export const formStyles = fieldStyles;
