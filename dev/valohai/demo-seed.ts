/**
 * The Valohai side of the demo behind `npm start`: the Bitbucket demo's admin (admin@acme.test) has a
 * Valohai account in organization `acme` with one project, `acme/ml-models`, whose repository is not
 * configured yet. An outsider's organization holds a project the admin cannot see.
 */
import type { ValohaiSeed } from './seed-types';

export const demoValohaiCredentials = {
  admin: { username: 'ada-admin', email: 'admin@acme.test', token: 'vhdemo-acme-admin-0123456789abcdef01234567' },
  outsider: { username: 'olga-owner', email: 'owner@umbrella.test', token: 'vhdemo-umbrella-owner-0123456789abcdef0123' },
  organization: 'acme',
  team: 'acme:ml-team',
  project: { id: '5b0f0e4c-7d1a-4c3e-9a61-0c2f6d8e9a01', owner: 'acme', name: 'ml-models', repositoryId: 1001 },
  outsiderProject: { id: '9e3c1b7a-2f4d-4b8e-8c5a-7d6e5f4a3b02', owner: 'umbrella', name: 'weather-forecasts', repositoryId: 1002 },
} as const;

const c = demoValohaiCredentials;

export const demoValohaiSeed: ValohaiSeed = {
  users: [
    { username: c.admin.username, email: c.admin.email, tokens: [c.admin.token] },
    { username: c.outsider.username, email: c.outsider.email, tokens: [c.outsider.token] },
  ],
  organizations: [
    { name: 'acme', members: [c.admin.username], teams: [{ name: 'ml-team', members: [c.admin.username] }] },
    { name: 'umbrella', members: [c.outsider.username] },
  ],
  projects: [
    {
      id: c.project.id,
      owner: c.project.owner,
      name: c.project.name,
      description: 'Models trained on the acme datasets.',
      repository: { id: c.project.repositoryId, url: '', ref: '' },
    },
    {
      id: c.outsiderProject.id,
      owner: c.outsiderProject.owner,
      name: c.outsiderProject.name,
      repository: { id: c.outsiderProject.repositoryId, url: '', ref: '' },
    },
  ],
};
