// Two builds of the same pages: `build/` for Forge (the real @forge/bridge) and, with
// PREVIEW_BRIDGE=1 or `--mode preview`, `build-preview/` where @forge/bridge is swapped for a small
// HTTP adapter (src/preview-bridge.ts) that the local preview server and the browser tests answer.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { atomicCssOrder } from './css-order';

const here = fileURLToPath(new URL('.', import.meta.url));
const previewBridge = fileURLToPath(new URL('./src/preview-bridge.ts', import.meta.url));

export default defineConfig(({ mode }) => {
  const preview = process.env.PREVIEW_BRIDGE === '1' || mode === 'preview';
  return {
    root: here,
    // Forge serves a resource from a path of its own choosing: every asset URL must be relative.
    base: './',
    logLevel: 'warn',
    resolve: preview ? { alias: { '@forge/bridge': previewBridge } } : {},
    // The design system's atomic styles, joined in import order, need shorthands first (css-order.ts).
    plugins: [atomicCssOrder()],
    oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
    build: {
      outDir: preview ? 'build-preview' : 'build',
      emptyOutDir: true,
      sourcemap: false,
      // ADS and react-dom make one large chunk (about 220 KB gzipped); that is expected here.
      chunkSizeWarningLimit: 1500,
    },
  };
});
