/**
 * Stands in for @atlaskit/feature-gate-js-client's FeatureGates (vite.config.ts aliases it, in both
 * builds). The design system asks it about its own feature gates through
 * @atlaskit/platform-feature-flags; in a Forge frame nothing initialises that client, so every gate
 * reads false. This answers the same false without bundling the Statsig client behind it, about
 * 27 KiB of gzipped JavaScript that every page load fetched.
 */
const FeatureGates = {
  checkGate(_gate: string, _options?: unknown): boolean {
    return false;
  },
};

export default FeatureGates;
