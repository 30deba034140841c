import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { BuiltinServerName } from './builtin-server-names.ts';
import { gmailBaseUrl, gmailServer } from './gmail/index.ts';
import { GOOGLE_CALENDAR_API_BASE_URL, googleCalendarServer } from './google-calendar/index.ts';
import { ProviderApi, ProviderError, type ProviderApiOptions } from './provider-api.ts';
import { sandboxServer, type SandboxData } from './sandbox/index.ts';
import { SLACK_API_BASE_URL, slackServer, SlackWorkspace, slackTokenRefused } from './slack/index.ts';

/** What a built-in server is made from: the provider's API, called with one connection's tokens. */
export interface BuiltinServerInput {
  /** The provider's API with the connection's token (renewed when the provider refuses it). */
  api: ProviderApi;
  /** The same API with the user's own token, for providers that grant one beside the app's (Slack's search). */
  userApi: ProviderApi;
}

export type BuiltinServerFactory = (input: BuiltinServerInput) => McpServer;

interface BuiltinProvider {
  /** The provider's name in messages. */
  name: string;
  /** The API's public base URL, unless the catalogue entry names another (`apiUrl`: tests, proxies). */
  apiUrl: string;
  /** How the provider says a token was refused, when not by HTTP 401 (Slack answers 200 `invalid_auth`). */
  tokenRefused?: ProviderApiOptions['tokenRefused'];
  create: BuiltinServerFactory;
  /**
   * A cheap call that succeeds only with a token the provider accepts, to check a key a user gives
   * before it is saved; a provider without one takes no keys.
   */
  check?: (api: ProviderApi) => Promise<void>;
}

export interface BuiltinServersOptions {
  /** The outbound guard's fetch: a built-in server's requests are checked like every other. */
  fetch(url: string, init: RequestInit): Promise<Response>;
  timeoutMs: number;
  maxResponseBytes: number;
  /** The sandbox's data in Agentry's database, for the keyless `sandbox` server. */
  sandbox: SandboxData;
}

/** One connection's tokens, as a built-in server uses them. */
export interface BuiltinCredentials {
  /** The connection's token; `rejected` is the one the provider refused (renew it). */
  token(rejected?: string): Promise<string | undefined>;
  /** The user's own token, when the provider granted one. */
  userToken(): Promise<string | undefined>;
}

const providers: Record<Exclude<BuiltinServerName, 'sandbox'>, BuiltinProvider> = {
  gmail: { name: 'Gmail', apiUrl: gmailBaseUrl, create: ({ api }) => gmailServer(api) },
  'google-calendar': { name: 'Google Calendar', apiUrl: GOOGLE_CALENDAR_API_BASE_URL, create: ({ api }) => googleCalendarServer(api) },
  slack: {
    name: 'Slack',
    apiUrl: SLACK_API_BASE_URL,
    tokenRefused: slackTokenRefused,
    // Slack's search takes only the user's own token; without one, the search tools say what to connect.
    create: ({ api, userApi }) => slackServer({ bot: api, user: userApi }),
    // auth.test answers who the token acts for, and refuses a token Slack does not know.
    check: async (api) => void (await new SlackWorkspace({ bot: api }).me()),
  },
};

/**
 * Agentry's own MCP servers for providers that have no first-party one (Gmail, Google Calendar,
 * Slack). Each connection gets its own server in this process, talking to its MCP client over an
 * in-memory transport, so the registry, the ledger, usage and health see it exactly as they see a
 * remote server; the user's token goes only to the provider's own API.
 */
export class BuiltinServers {
  constructor(private readonly options: BuiltinServersOptions) {}

  /** `userId`: whose connection it is (the sandbox serves that user's data and nobody else's). */
  create(name: BuiltinServerName, credentials: BuiltinCredentials, options: { apiUrl?: string | undefined; userId: string }): McpServer {
    if (name === 'sandbox') return sandboxServer(this.options.sandbox, options.userId);
    const provider = providers[name];
    const api = (token: BuiltinCredentials['token']) => this.api(provider, token, options);
    const userToken = async () => {
      const token = await credentials.userToken();
      if (!token)
        throw new ProviderError(
          `This tool needs your own ${provider.name} token beside the app's, and this connection has none: connect ${provider.name} again and grant it.`,
          401,
        );
      return token;
    };
    return provider.create({ api: api(credentials.token), userApi: api(userToken) });
  }

  /**
   * Proves `key` with the provider's own cheap call, before a connection is saved with it. Throws
   * the ProviderError the provider's answer gives (status 401 or 403: the key was refused).
   */
  async check(name: BuiltinServerName, key: string, options: { apiUrl?: string | undefined }): Promise<void> {
    const provider = name === 'sandbox' ? undefined : providers[name];
    if (!provider?.check) throw new ProviderError('This integration takes no key: connect it by signing in.', 400);
    // The key is used as given: a refused key is not renewed.
    await provider.check(this.api(provider, async () => key, options));
  }

  private api(provider: BuiltinProvider, token: BuiltinCredentials['token'], options: { apiUrl?: string | undefined }): ProviderApi {
    return new ProviderApi({
      name: provider.name,
      baseUrl: options.apiUrl ?? provider.apiUrl,
      fetch: this.options.fetch,
      token,
      timeoutMs: this.options.timeoutMs,
      maxResponseBytes: this.options.maxResponseBytes,
      ...(provider.tokenRefused ? { tokenRefused: provider.tokenRefused } : {}),
    });
  }
}
