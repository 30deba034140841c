import { api } from './api.ts';
import type { Integration } from './api-shapes.ts';

/**
 * The integrations catalogue with the user's connections, or an empty list where the
 * installation has integrations turned off (pages then name providers by their ids).
 */
export async function loadIntegrations(signal?: AbortSignal): Promise<Integration[]> {
  try {
    return (await api('GET', '/v1/integrations', signal ? { signal } : {})).integrations;
  } catch (error) {
    if ((error as { code?: string }).code === 'FEATURE_UNAVAILABLE') return [];
    throw error;
  }
}

/** A provider's display name. */
export function providerName(integrations: Integration[] | undefined, provider: string): string {
  return integrations?.find((integration) => integration.provider === provider)?.name ?? provider;
}

/** Events on the `integrations` topic after which a connection's status, error or times may differ. */
export const connectionEvents = new Set([
  'integration.connected',
  'integration.disconnected',
  'integration.status_changed',
  'integration.error',
  'integration.refreshed',
]);
