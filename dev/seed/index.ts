export * from './seed-types';
export { buildSeed, SeedError, SEED_EPOCH, type BuiltSeed, type BuildSeedOptions } from './build-seed';
export { demoSeed, demoBitbucketCredentials, demoRepos, ALL_BITBUCKET_SCOPES, FOREIGN_SUBMODULE_SHA } from './demo-seed';
export { uuidFor, ed25519PublicKeyFor } from './deterministic';
export { trustSeed, trustCredentials } from './trust-seed';
export { previewSeed, crownJewelsRepo, CROWN_JEWELS } from './preview-seed';
export { demoWithRepos, libraryRepos } from './extend-seed';
export { buildFleetSeed, fleetSlug, weakRsaKeyFor, dsaKeyFor, FLEET_REPOSITORIES, type BuiltFleet, type FleetFacts, type FleetKeyFact } from './fleet-seed';
