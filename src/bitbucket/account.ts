/**
 * What an Atlassian account needs to reach Bitbucket Cloud's API with an API token: where the API is,
 * where the token is made, and the scopes the product needs. Pure constants, shared by the clients, the
 * CLI, the Forge backend and the settings pages (which bundle this file alone).
 */

/** Bitbucket Cloud's REST API root. */
export const BITBUCKET_CLOUD_API_ROOT = 'https://api.bitbucket.org/2.0';

/** Where an Atlassian account creates API tokens. */
export const API_TOKEN_URL = 'https://id.atlassian.com/manage-profile/security/api-tokens';

/** The scopes an Atlassian API token needs to manage access keys, in the order people are shown them. */
export const BITBUCKET_TOKEN_SCOPES = ['read:repository:bitbucket', 'admin:repository:bitbucket', 'write:ssh-key:bitbucket', 'delete:ssh-key:bitbucket'] as const;
