import { useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { Box, Inline, Pressable, Text, xcss } from '@atlaskit/primitives';

export interface Tab {
  id: string;
  label: string;
  panel: ReactNode;
}

// No line of its own under the tabs: each panel opens with a section, whose rule is the tabs' baseline
// (the chosen tab's underline stands on it).
const listStyles = xcss({ marginBlockEnd: 'space.0' });

const tabStyles = xcss({
  position: 'relative',
  paddingBlock: 'space.100',
  paddingInline: 'space.100',
  marginBlockEnd: 'space.negative.025',
  backgroundColor: 'color.background.neutral.subtle',
  borderBlockEndWidth: 'border.width.selected',
  borderBlockEndStyle: 'solid',
  borderBlockEndColor: 'color.border.selected',
  borderRadius: 'radius.small',
  // Medium, as the design system's buttons and tabs weigh.
  fontWeight: 'font.weight.medium',
  cursor: 'pointer',
  ':hover': { backgroundColor: 'color.background.neutral.subtle.hovered' },
  ':focus-visible': { outlineColor: 'color.border.focused', outlineStyle: 'solid', outlineWidth: 'border.width.focused', outlineOffset: 'space.negative.025' },
});
const idleStyles = xcss({ borderBlockEndColor: 'color.border', borderBlockEndWidth: 0 });

function fromHash(ids: string[], fallback: string): string {
  const wanted = typeof window === 'undefined' ? '' : window.location.hash.replace(/^#/, '');
  return ids.includes(wanted) ? wanted : fallback;
}

/**
 * Tabs as the design system draws them (its own package is not among the page's): a tab list the arrow
 * keys, Home and End move along, one panel shown at a time. The panels stay mounted, so a half-filled
 * form or a row chosen keeps while another tab is looked at. The tab chosen is kept in the address's
 * hash, so a reload or a shared link opens the same one.
 */
export function Tabs({ tabs, label, idPrefix }: { tabs: Tab[]; label: string; idPrefix: string }) {
  const ids = tabs.map((t) => t.id);
  const [current, setCurrent] = useState(() => fromHash(ids, tabs[0]?.id ?? ''));
  const buttons = useRef<Record<string, HTMLButtonElement | null>>({});

  const choose = (id: string, focus = false) => {
    setCurrent(id);
    try {
      window.history.replaceState(null, '', `#${id}`);
    } catch {
      // A frame that may not change its address still changes the tab.
    }
    if (focus) buttons.current[id]?.focus();
  };
  const onKeyDown = (event: KeyboardEvent<HTMLElement>) => {
    const at = ids.indexOf(current);
    const to = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: ids.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    choose(ids[(to + ids.length) % ids.length] as string, true);
  };

  return (
    <div>
      <Box xcss={listStyles}>
        <div role="tablist" aria-label={label} onKeyDown={onKeyDown} data-testid={`${idPrefix}-tabs`}>
          <Inline space="space.100">
            {tabs.map((tab) => {
              const selected = tab.id === current;
              return (
                <Pressable
                  key={tab.id}
                  ref={(el: HTMLButtonElement | null) => {
                    buttons.current[tab.id] = el;
                  }}
                  role="tab"
                  id={`${idPrefix}-tab-${tab.id}`}
                  aria-selected={selected}
                  aria-controls={`${idPrefix}-panel-${tab.id}`}
                  tabIndex={selected ? 0 : -1}
                  xcss={[tabStyles, !selected && idleStyles]}
                  onClick={() => choose(tab.id)}
                  testId={`${idPrefix}-tab-${tab.id}`}
                >
                  <Text weight="medium" color={selected ? 'color.text.selected' : 'color.text.subtle'}>
                    {tab.label}
                  </Text>
                </Pressable>
              );
            })}
          </Inline>
        </div>
      </Box>
      {tabs.map((tab) => (
        <div
          key={tab.id}
          role="tabpanel"
          id={`${idPrefix}-panel-${tab.id}`}
          aria-labelledby={`${idPrefix}-tab-${tab.id}`}
          hidden={tab.id !== current}
          data-testid={`${idPrefix}-panel-${tab.id}`}
        >
          {tab.panel}
        </div>
      ))}
    </div>
  );
}
