export * from './seed-types.js';
export { buildSeed, SeedError, SEED_EPOCH, type BuiltSeed, type BuildSeedOptions } from './build-seed.js';
export { demoSeed, demoBitbucketCredentials, demoRepos, ALL_BITBUCKET_SCOPES, FOREIGN_SUBMODULE_SHA } from './demo-seed.js';
export { uuidFor, ed25519PublicKeyFor } from './deterministic.js';
