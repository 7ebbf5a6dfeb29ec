import type { MouseEvent, ReactNode } from 'react';
import { router } from '@forge/bridge';

// Underlined, so a link inside a sentence is told apart by more than its colour (WCAG 1.4.1).
const underline = { textDecoration: 'underline' } as const;

/**
 * A real link (so it is announced and focusable as one), opened through the Forge router: the page
 * lives in a sandboxed frame where a plain link would navigate the frame itself.
 */
export function ExternalLink({ href, children, testId }: { href: string; children: ReactNode; testId?: string }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    event.preventDefault();
    void router.open(href).catch(() => window.open(href, '_blank', 'noopener,noreferrer'));
  };
  return (
    <a href={href} target="_blank" rel="noopener noreferrer" onClick={onClick} data-testid={testId} style={underline}>
      {children}
    </a>
  );
}

/** A link to another page of Bitbucket itself: navigates the whole window. */
export function ProductLink({ href, children, testId }: { href: string; children: ReactNode; testId?: string }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    event.preventDefault();
    void router.navigate(href).catch(() => window.open(href, '_top'));
  };
  return (
    <a href={href} target="_top" onClick={onClick} data-testid={testId} style={underline}>
      {children}
    </a>
  );
}
