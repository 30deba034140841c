import { z } from 'zod';
import { isAllowListEntry } from '../integrations/index.ts';
import { bool, commaList, int } from './value-schemas.ts';

/** Integrations (MCP servers behind OAuth) and the hosts outbound requests may reach. */
export const integrationSettings = {
  FEATURE_INTEGRATIONS: bool.default(true).describe('Integrations (MCP servers behind OAuth).'),
  INTEGRATIONS_CATALOGUE: z
    .string()
    .min(1)
    .optional()
    .describe('The integrations catalogue file (YAML). Default: the config/integrations.yaml shipped with Agentry.'),
  INTEGRATIONS_ALLOW_USER_MCP_URLS: bool
    .default(false)
    .describe("Let users connect MCP servers by URL (the catalogue's `url: user` entries); each URL passes the outbound-request guard."),
  OUTBOUND_ALLOWED_HOSTS: commaList(isAllowListEntry, 'must list addresses, CIDR ranges or host names').describe(
    'Comma-separated addresses, CIDR ranges or host names that outbound requests may reach although they are loopback, private or link-local (refused otherwise).',
  ),
  INTEGRATIONS_TIMEOUT_MS: int(100, 600_000)
    .default(30_000)
    .describe('How long connecting to an MCP server, and each request to it (a tool call, a listing, a ping), may take.'),
  INTEGRATIONS_MAX_RETRIES: int(0, 10)
    .default(2)
    .describe('Retries, with backoff, of a tool call whose MCP server could not be reached or timed out.'),
  INTEGRATIONS_MAX_RESPONSE_BYTES: int(1024, 1024 * 1024 * 1024)
    .default(16 * 1024 * 1024)
    .describe(
      'Largest answer accepted from an MCP server; a larger one fails the call (the model reads at most 32,000 characters of a result). Also the largest event on its notification stream (a larger one closes it).',
    ),
  INTEGRATIONS_HEALTH_INTERVAL_MS: int(0, 86_400_000)
    .default(300_000)
    .describe('How often each connection is checked (token validity and an MCP ping); 0 turns the checks off.'),
} as const;
