import { z } from 'zod';
import { ProviderApi, ProviderError, type ProviderApiOptions } from '../provider-api.ts';

/** Slack's Web API; tests point a connector at a local fake instead. */
export const SLACK_API_BASE_URL = 'https://slack.com/api';

/**
 * Slack answers a refused token with HTTP 200 and `{ ok: false, error: "invalid_auth" }` (or
 * `token_expired` once a rotating token has lived its 12 hours), never with a 401. Those two are
 * the answers a renewed token can fix, so they renew the token once, as a 401 does elsewhere.
 * `token_revoked` and `account_inactive` mean the app was uninstalled or the user removed: a new
 * token will not come from a refresh, so they are reported, not retried.
 */
export function slackTokenRefused({ status, text }: { status: number; text: string }): boolean {
  if (status === 401) return true;
  if (status !== 200 || text.length > 4096) return false;
  const error = errorCode(text);
  return error === 'invalid_auth' || error === 'token_expired';
}

/**
 * A `ProviderApi` for Slack: its base URL by default, named "Slack", and renewing the token on
 * Slack's in-band refusals. Build the bot's and the user's APIs with it so renewal works.
 */
export function slackApi(options: Omit<ProviderApiOptions, 'name' | 'baseUrl' | 'tokenRefused'> & { baseUrl?: string }): ProviderApi {
  return new ProviderApi({ ...options, name: 'Slack', baseUrl: options.baseUrl ?? SLACK_API_BASE_URL, tokenRefused: slackTokenRefused });
}

const refusal = z.object({
  ok: z.literal(false),
  error: z.string().max(200),
  needed: z.string().max(500).optional(),
  provided: z.string().max(2000).optional(),
});

/**
 * Calls one Web API method and answers its `ok: true` body checked against `schema`; an
 * `ok: false` answer becomes a `ProviderError` the model and user can act on. Reads go as GET with
 * a query (Slack's read methods take no JSON body); writes as a JSON POST.
 */
export async function callSlack<T extends z.ZodRawShape>(
  api: ProviderApi,
  method: string,
  shape: T,
  request: { params: Record<string, string | number | boolean | undefined>; write?: boolean; signal?: AbortSignal | undefined },
): Promise<z.infer<z.ZodObject<T>>> {
  const schema = z.discriminatedUnion('ok', [refusal, z.object({ ...shape, ok: z.literal(true) })]);
  const body = await api.request(schema, {
    method: request.write ? 'POST' : 'GET',
    path: `/${method}`,
    ...(request.write ? { body: request.params } : { query: request.params }),
    signal: request.signal,
  });
  const said = refusal.safeParse(body);
  if (said.success) throw slackError(method, said.data);
  return body as z.infer<z.ZodObject<T>>;
}

/** Slack's error codes in words; unknown codes keep Slack's own code so nothing is hidden. */
function slackError(method: string, { error, needed, provided }: z.infer<typeof refusal>): ProviderError {
  switch (error) {
    case 'missing_scope':
      return new ProviderError(
        `Slack refused ${method}: the connection lacks the ${needed ? `"${needed}"` : 'needed'} permission (scope)${provided ? `; it has ${provided}` : ''}. Connect Slack again on the Integrations page to grant it.`,
        403,
      );
    case 'not_in_channel':
      return new ProviderError('The Agentry app is not a member of that channel: invite it there (/invite) and try again.', 403);
    case 'channel_not_found':
      return new ProviderError('Slack found no such channel, or the connection cannot see it: check the id with list_channels.', 404);
    case 'thread_not_found':
    case 'message_not_found':
      return new ProviderError('Slack found no such message or thread in that channel.', 404);
    case 'is_archived':
      return new ProviderError('That channel is archived: Slack takes no new messages there.', 409);
    case 'msg_too_long':
      return new ProviderError('The message is too long for Slack: shorten it.', 400);
    case 'invalid_auth':
    case 'not_authed':
    case 'token_expired':
      return new ProviderError("Slack refused the connection's credentials: connect Slack again on the Integrations page.", 401);
    case 'token_revoked':
    case 'account_inactive':
    case 'app_uninstalled':
      return new ProviderError(
        `Slack says the connection is no longer valid (${error}): the workspace may have removed the Agentry app. Connect Slack again on the Integrations page.`,
        401,
      );
    case 'not_allowed_token_type':
      return new ProviderError(
        `Slack does not allow ${method} with this kind of token: connect Slack again with the user permission it needs.`,
        403,
      );
    case 'ratelimited':
      return new ProviderError('Slack is limiting requests. Try again in a minute.', 429);
    default:
      return new ProviderError(`Slack refused ${method} (${error}).`, 400);
  }
}

function errorCode(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { ok?: unknown; error?: unknown };
    return body.ok === false && typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}
