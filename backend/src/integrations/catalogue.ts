import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { ApprovalRule } from '../tools/index.ts';
import { builtinServerNames, keylessServerNames } from './connectors/builtin-server-names.ts';

/*
 * The integrations catalogue: the one file listing the providers this installation offers, how a
 * user authorises each, and where its tools come from. Values may name environment variables,
 * `${NAME}` or `${NAME:-default}`, so client secrets stay out of the file. An entry whose
 * variables are unset is listed but cannot be connected until an administrator sets them.
 */

const providerId = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and -, starting with a letter');
const text = z.string().trim().min(1).max(2000);
const scope = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/, 'must be an OAuth scope token');

const oauth2Schema = z.strictObject({
  type: z.literal('oauth2'),
  authorizationUrl: text,
  tokenUrl: text,
  revocationUrl: text.optional(),
  /** The issuer the provider names in its authorization responses; default the authorization URL's origin. */
  issuer: text.optional(),
  scopes: z.array(scope).max(100).default([]),
  clientId: text,
  clientSecret: text,
  tokenAuthMethod: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  /** Token types besides `bearer` the provider issues (Slack: `bot`); they are sent as bearer tokens. */
  tokenTypes: z
    .array(z.string().regex(/^[a-z_-]{1,40}$/i))
    .max(10)
    .default([]),
  /** Extra parameters of the authorization request, such as Google's access_type=offline. */
  authorizationParams: z.record(z.string().regex(/^[a-z_]{1,40}$/), z.string().max(200)).default({}),
});
/**
 * MCP's own authorization: the server's protected-resource metadata names its authorization
 * server, whose metadata gives the endpoints, and Agentry registers itself there as a client
 * unless an administrator gives one.
 */
const mcpAuthSchema = z.strictObject({
  type: z.literal('mcp'),
  /** The scopes to ask for; by default those the server asks for in its metadata. */
  scopes: z.array(scope).max(100).optional(),
  /** A client an administrator registered, for servers without dynamic registration; empty: Agentry registers itself. */
  clientId: z.string().max(2000).optional(),
  clientSecret: z.string().max(2000).optional(),
});
const authSchema = z.discriminatedUnion('type', [
  oauth2Schema,
  mcpAuthSchema,
  z.strictObject({ type: z.literal('api_key') }),
  z.strictObject({ type: z.literal('none') }),
]);

/**
 * A key a user may connect with instead of (or, for `api_key` entries, as) signing in: a personal
 * access token, an API key, an integration token or a bot token. It is sent as the bearer token,
 * to the MCP server (remote) or to the provider's API (built-in); what the console asks shows
 * `label`, `help` and a link to `docs`.
 */
const apiKeySchema = z.strictObject({
  label: z.string().trim().min(1).max(100),
  help: z.string().trim().max(500).optional(),
  docs: text.optional(),
});

const mcpSchema = z.discriminatedUnion('transport', [
  z.strictObject({
    transport: z.literal('streamable-http'),
    /** The MCP endpoint, or `user`: each user gives their own (only when INTEGRATIONS_ALLOW_USER_MCP_URLS is on). */
    url: text,
  }),
  z.strictObject({
    /** One of Agentry's own MCP servers, run in this process; it calls the provider's API at `apiUrl` with the user's token. */
    transport: z.literal('builtin'),
    server: z.enum(builtinServerNames),
    apiUrl: text.optional(),
    /**
     * A remote MCP server to use instead (typically `${GMAIL_MCP_URL:-}`): when it is set, the entry
     * connects there with MCP's own authorization, so the provider's token never goes to it.
     */
    remoteUrl: z.string().max(2000).optional(),
  }),
  z.strictObject({
    transport: z.literal('stdio'),
    command: text,
    args: z.array(z.string().max(2000)).max(100).default([]),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,100}$/), z.string().max(4000)).default({}),
  }),
]);

const entrySchema = z.strictObject({
  id: providerId,
  name: text,
  icon: z.string().max(200).default('plug'),
  description: z.string().max(1000).default(''),
  docs: z.strictObject({ oauth: text.optional(), mcp: text.optional() }).default({}),
  auth: authSchema,
  /** Connecting with a key as well as by signing in (an `api_key` entry may give it too, for its wording). */
  apiKey: apiKeySchema.optional(),
  mcp: mcpSchema,
  /**
   * Providers this entry stands in for (the sandbox: gmail, google-calendar, slack): its server
   * names their tools as they do, a template that requires one of them can run with it, and a
   * user's connection to the real provider takes precedence over it.
   */
  standsIn: z.array(providerId).max(20).default([]),
  /**
   * The administrator's approval rules for this provider's tools: a tool name or `*` pattern as
   * the provider's server names it (`send_*`), and `allow`, `ask` or `deny`; an `ask` with
   * `locked` cannot be turned into `allow` by an agent or a user.
   */
  approvals: z
    .array(
      z.strictObject({
        tool: z.string().regex(/^[A-Za-z0-9_*-]{1,150}$/, 'must be a tool name or a pattern with *'),
        decision: z.enum(['allow', 'ask', 'deny']),
        locked: z.boolean().default(false),
      }),
    )
    .max(200)
    .default([]),
});

const catalogueSchema = z.strictObject({ providers: z.array(entrySchema).max(500) });

type RawEntry = z.infer<typeof entrySchema>;

export type OAuth2Settings = z.infer<typeof oauth2Schema>;

export type McpAuthSettings = z.infer<typeof mcpAuthSchema>;

export type ApiKeyOption = z.infer<typeof apiKeySchema>;

/** A catalogue entry with its variables filled in. */
export interface ProviderEntry {
  id: string;
  name: string;
  icon: string;
  description: string;
  docs: { oauth?: string; mcp?: string };
  auth: RawEntry['auth'];
  /** Set when a user may connect with a key: always for `api_key` entries, and for others that offer one. */
  apiKey?: ApiKeyOption;
  mcp: RawEntry['mcp'];
  /** Each user supplies the MCP URL when connecting. */
  userSuppliedUrl: boolean;
  /** Providers this entry stands in for (see the catalogue schema). */
  standsIn: string[];
  /** The administrator's approval rules, with tool names as the model sees them (`provider__tool`). */
  approvals: ApprovalRule[];
  /** Why the entry cannot be connected on this installation in any way; undefined when it can. */
  unavailable?: string;
  /**
   * Why signing in (oauth2, mcp) cannot be used here, for entries that sign in: their OAuth app is
   * not set up, or the whole entry is unavailable. A key may still connect when the entry offers one.
   */
  signInUnavailable?: string;
}

export class Catalogue {
  private readonly byId: Map<string, ProviderEntry>;

  constructor(readonly providers: readonly ProviderEntry[]) {
    this.byId = new Map(providers.map((p) => [p.id, p]));
  }

  /** Every entry's approval rules: the administrator's level of the approval policy for integration tools. */
  approvalRules(): ApprovalRule[] {
    return this.providers.flatMap((p) => p.approvals);
  }

  get(id: string): ProviderEntry {
    const entry = this.byId.get(id);
    if (!entry) throw new AppError('INTEGRATION_NOT_FOUND', `There is no integration "${id}" on this installation.`);
    return entry;
  }
}

/**
 * Reads and checks the catalogue. A malformed file stops the start with a message naming the
 * entry and field; an entry missing its variables is kept, marked unavailable.
 */
export function loadCatalogue(file: string, env: Record<string, string | undefined>, options: { allowUserUrls: boolean }): Catalogue {
  let raw: unknown;
  try {
    raw = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new AppError('CONFIG_INVALID', `The integrations catalogue ${file} cannot be read: ${(error as Error).message}`);
  }
  const parsed = catalogueSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(
      'CONFIG_INVALID',
      `The integrations catalogue ${file} is not valid at ${issue.path.join('.') || '(top)'}: ${issue.message}`,
    );
  }
  const seen = new Set<string>();
  const entries = parsed.data.providers.map((entry) => {
    if (seen.has(entry.id)) throw new AppError('CONFIG_INVALID', `The integrations catalogue ${file} lists "${entry.id}" twice.`);
    seen.add(entry.id);
    return resolveEntry(entry, env, options, file);
  });
  return new Catalogue(entries);
}

const withSignIn = (reason: string | undefined) => (reason ? { signInUnavailable: reason } : {});

function resolveEntry(
  raw: RawEntry,
  env: Record<string, string | undefined>,
  options: { allowUserUrls: boolean },
  file: string,
): ProviderEntry {
  const missing = new Set<string>();
  // Variables only signing in needs (the OAuth app's): a key connects without them.
  const signInMissing = new Set<string>();
  // A default runs to its `}` but never over another `${`: an unclosed one then costs one scan, not one per `${`.
  const expander = (into: Set<string>) => (value: string) =>
    value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^}$]|\$(?!\{))*))?\}/g, (_whole, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      into.add(name);
      return '';
    });
  const expand = expander(missing);
  const expandSignIn = expander(signInMissing);
  const remoteUrl = raw.mcp.transport === 'builtin' && raw.mcp.remoteUrl ? expand(raw.mcp.remoteUrl).trim() : '';
  // The provider's own key is not sent to another server either: a remote entry connects only through its authorization.
  const { apiKey: _providerKey, ...rest } = raw;
  const entry: RawEntry = remoteUrl ? { ...rest, auth: { type: 'mcp' }, mcp: { transport: 'streamable-http', url: remoteUrl } } : raw;
  const auth =
    entry.auth.type === 'oauth2'
      ? {
          ...entry.auth,
          authorizationUrl: expandSignIn(entry.auth.authorizationUrl),
          tokenUrl: expandSignIn(entry.auth.tokenUrl),
          clientId: expandSignIn(entry.auth.clientId),
          clientSecret: expandSignIn(entry.auth.clientSecret),
          ...(entry.auth.revocationUrl ? { revocationUrl: expandSignIn(entry.auth.revocationUrl) } : {}),
          ...(entry.auth.issuer ? { issuer: expandSignIn(entry.auth.issuer) } : {}),
        }
      : entry.auth.type === 'mcp'
        ? {
            ...entry.auth,
            // Empty once expanded (`${NOTION_CLIENT_ID:-}` unset): Agentry registers itself.
            ...(entry.auth.clientId !== undefined ? { clientId: expandSignIn(entry.auth.clientId) || undefined } : {}),
            ...(entry.auth.clientSecret !== undefined ? { clientSecret: expandSignIn(entry.auth.clientSecret) || undefined } : {}),
          }
        : entry.auth;
  const mcp =
    entry.mcp.transport === 'stdio'
      ? {
          ...entry.mcp,
          command: expand(entry.mcp.command),
          args: entry.mcp.args.map(expand),
          env: Object.fromEntries(Object.entries(entry.mcp.env).map(([k, v]) => [k, expand(v)])),
        }
      : entry.mcp.transport === 'builtin'
        ? { transport: entry.mcp.transport, server: entry.mcp.server, ...(entry.mcp.apiUrl ? { apiUrl: expand(entry.mcp.apiUrl) } : {}) }
        : { ...entry.mcp, url: expand(entry.mcp.url) };
  const userSuppliedUrl = mcp.transport === 'streamable-http' && mcp.url === 'user';
  // A command is the administrator's: it gets no user's credential, so it may take none.
  if (mcp.transport === 'stdio' && auth.type !== 'none')
    throw new AppError(
      'CONFIG_INVALID',
      `The integrations catalogue ${file}: "${entry.id}" runs a local command, which takes no user credential: give it auth type none.`,
    );
  const keyless = mcp.transport === 'builtin' && keylessServerNames.includes(mcp.server);
  if (mcp.transport === 'builtin' && !keyless && auth.type === 'none')
    throw new AppError(
      'CONFIG_INVALID',
      `The integrations catalogue ${file}: "${entry.id}" runs a built-in server, which calls its provider with the user's token: give it auth type oauth2 or api_key.`,
    );
  if (keyless && auth.type !== 'none')
    throw new AppError(
      'CONFIG_INVALID',
      `The integrations catalogue ${file}: "${entry.id}" runs a built-in server that calls no provider and takes no credential: give it auth type none.`,
    );
  if (entry.standsIn.includes(entry.id))
    throw new AppError('CONFIG_INVALID', `The integrations catalogue ${file}: "${entry.id}" cannot stand in for itself.`);
  if (userSuppliedUrl && auth.type === 'oauth2')
    throw new AppError(
      'CONFIG_INVALID',
      `The integrations catalogue ${file}: "${entry.id}" has a user-supplied MCP URL, which only api_key and none entries may have.`,
    );
  if (auth.type === 'mcp' && (mcp.transport !== 'streamable-http' || userSuppliedUrl))
    throw new AppError(
      'CONFIG_INVALID',
      `The integrations catalogue ${file}: "${entry.id}" uses MCP authorization, which needs the administrator's streamable-http URL.`,
    );
  if (auth.type === 'mcp' && auth.clientSecret && !auth.clientId)
    throw new AppError('CONFIG_INVALID', `The integrations catalogue ${file}: "${entry.id}" has a clientSecret without a clientId.`);
  if (entry.apiKey && auth.type === 'none')
    throw new AppError(
      'CONFIG_INVALID',
      `The integrations catalogue ${file}: "${entry.id}" takes no credential, so it cannot offer a key.`,
    );
  const offersKey = auth.type === 'api_key' || entry.apiKey !== undefined;
  const urls = [
    ...(auth.type === 'oauth2' ? [auth.authorizationUrl, auth.tokenUrl, auth.revocationUrl] : []),
    mcp.transport === 'streamable-http' && !userSuppliedUrl ? mcp.url : undefined,
    mcp.transport === 'builtin' ? mcp.apiUrl : undefined,
  ];
  for (const url of urls) {
    if (url && !missing.size && !signInMissing.size && !/^https?:\/\/[^\s/]+/.test(url))
      throw new AppError('CONFIG_INVALID', `The integrations catalogue ${file}: "${entry.id}" has "${url}" where an http(s) URL belongs.`);
  }
  let unavailable: string | undefined;
  const notSetUp = (names: Set<string>) => `Not set up on this installation: an administrator must set ${[...names].join(', ')}.`;
  // Signing in needs the OAuth app; a key does not, so an entry offering one stays available without it.
  const signInUnavailable = signInMissing.size > 0 ? notSetUp(new Set([...missing, ...signInMissing])) : undefined;
  if (missing.size > 0) unavailable = notSetUp(missing);
  else if (signInUnavailable && !offersKey) unavailable = signInUnavailable;
  else if (userSuppliedUrl && !options.allowUserUrls)
    unavailable = 'Your own MCP servers are not enabled on this installation (INTEGRATIONS_ALLOW_USER_MCP_URLS).';
  return {
    id: entry.id,
    approvals: entry.approvals.map((rule) => ({ ...rule, tool: `${entry.id}__${rule.tool}` })),
    name: entry.name,
    icon: entry.icon,
    description: entry.description,
    docs: entry.docs,
    auth,
    ...(offersKey ? { apiKey: entry.apiKey ?? { label: 'API key' } } : {}),
    mcp,
    userSuppliedUrl,
    standsIn: entry.standsIn,
    ...(unavailable ? { unavailable } : {}),
    ...(auth.type === 'oauth2' || auth.type === 'mcp' ? withSignIn(unavailable ?? signInUnavailable) : {}),
  };
}
