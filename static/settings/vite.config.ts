// Two builds of the same pages: `build/` for Forge (the real @forge/bridge) and, with
// PREVIEW_BRIDGE=1 or `--mode preview`, `build-preview/` where @forge/bridge is swapped for a small
// HTTP adapter (src/preview-bridge.ts) that the local preview server and the browser tests answer.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { atomicCssOrder } from './css-order';

const here = fileURLToPath(new URL('.', import.meta.url));
const previewBridge = fileURLToPath(new URL('./src/preview-bridge.ts', import.meta.url));
const featureGatesOff = fileURLToPath(new URL('./src/feature-gates-off.ts', import.meta.url));

export default defineConfig(({ mode }) => {
  const preview = process.env.PREVIEW_BRIDGE === '1' || mode === 'preview';
  return {
    root: here,
    // Forge serves a resource from a path of its own choosing: every asset URL must be relative.
    base: './',
    logLevel: 'warn',
    resolve: {
      alias: [
        { find: /^@atlaskit\/feature-gate-js-client\/feature-gates$/, replacement: featureGatesOff },
        ...(preview ? [{ find: /^@forge\/bridge$/, replacement: previewBridge }] : []),
      ],
    },
    // The design system's atomic styles, joined in import order, need shorthands first (css-order.ts).
    plugins: [atomicCssOrder()],
    oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
    build: {
      outDir: preview ? 'build-preview' : 'build',
      emptyOutDir: true,
      sourcemap: false,
      // Each page's code is a chunk of its own (app.tsx loads it), but the styles stay one sheet loaded
      // at start: split sheets would join in load order, and a later one could undo css-order.ts's sort.
      cssCodeSplit: false,
      // react-dom and the design system's core make the entry chunk large; that is expected here.
      chunkSizeWarningLimit: 1500,
    },
  };
});
