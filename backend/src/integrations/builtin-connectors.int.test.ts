import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../test/fake-oauth-server.ts';
import { startFakeGmailApi, type FakeGmailApi } from '../../test/fakes/fake-gmail-api.ts';
import { startFakeGoogleCalendarApi, type FakeGoogleCalendarApi } from '../../test/fakes/fake-google-calendar-api.ts';
import { startFakeSlackApi, type FakeSlackApi } from '../../test/fakes/fake-slack-api.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

const publicUrl = 'http://agentry.test';
const shipped = fs.readFileSync(new URL('../../../config/integrations.yaml', import.meta.url), 'utf8');

/**
 * The shipped catalogue, its OAuth endpoints moved to local fakes (Google's and Slack's own
 * endpoints are the only lines changed): what an administrator sets is only the two client ids
 * and secrets, and the built-in servers' API URLs point at the fake APIs.
 */
function catalogueAt(dir: string, google: FakeOAuthServer, slack: FakeOAuthServer): string {
  const file = path.join(dir, 'integrations.yaml');
  const text = shipped
    .replaceAll('https://accounts.google.com/o/oauth2/v2/auth', `${google.url}/authorize`)
    .replaceAll('https://oauth2.googleapis.com/token', `${google.url}/token`)
    .replaceAll('https://oauth2.googleapis.com/revoke', `${google.url}/revoke`)
    .replaceAll('issuer: https://accounts.google.com', `issuer: ${google.url}`)
    .replaceAll('https://slack.com/oauth/v2/authorize', `${slack.url}/authorize`)
    .replaceAll('https://slack.com/api/oauth.v2.access', `${slack.url}/token`)
    .replaceAll('https://slack.com/api/auth.revoke', `${slack.url}/revoke`);
  fs.writeFileSync(file, text);
  return file;
}

/** A set of tokens that the fake API accepts: whatever the fake OAuth server issued and has not revoked. */
function acceptedBy(oauth: FakeOAuthServer): Set<string> {
  return new (class extends Set<string> {
    override has(token: string): boolean {
      return oauth.accepts(token);
    }
  })();
}

describe('the built-in Gmail, Calendar and Slack servers, connected through OAuth with only client ids set', () => {
  let google: FakeOAuthServer;
  let slackOAuth: FakeOAuthServer;
  let gmail: FakeGmailApi;
  let calendar: FakeGoogleCalendarApi;
  let slack: FakeSlackApi;
  let t: TestApp;

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-builtin-'));
    google = await startFakeOAuthServer({ redirectUri: `${publicUrl}/v1/oauth/callback` });
    slackOAuth = await startFakeOAuthServer({ redirectUri: `${publicUrl}/v1/oauth/callback` });
    slackOAuth.tokenType = 'bot';
    gmail = await startFakeGmailApi();
    gmail.tokens = acceptedBy(google);
    calendar = await startFakeGoogleCalendarApi();
    calendar.tokens = acceptedBy(google);
    slack = await startFakeSlackApi();
    // The Slack fake checks its own tokens: the OAuth fake hands out ones it issued.
    slackOAuth.mintAccessToken = () => slack.issueToken('bot');
    slackOAuth.userToken = () => slack.issueToken('user');
    t = await createTestApp('pglite', {
      PUBLIC_URL: publicUrl,
      INTEGRATIONS_CATALOGUE: catalogueAt(dir, google, slackOAuth),
      INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
      GOOGLE_CLIENT_ID: google.clientId,
      GOOGLE_CLIENT_SECRET: google.clientSecret,
      SLACK_CLIENT_ID: slackOAuth.clientId,
      SLACK_CLIENT_SECRET: slackOAuth.clientSecret,
      GMAIL_API_URL: gmail.url,
      GOOGLE_CALENDAR_API_URL: calendar.baseUrl,
      SLACK_API_URL: slack.url,
    });
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([google.close(), slackOAuth.close(), gmail.close(), calendar.close(), slack.close()]);
  });

  /** Connects `provider` as a browser would: start, the provider's consent, the callback with the binding cookie. */
  async function connect(provider: string): Promise<void> {
    const started = await t.app.inject({ method: 'POST', url: `/v1/integrations/${provider}/connect`, headers: bearer(t.userToken) });
    expect(started.statusCode, started.body).toBe(200);
    const consent = await fetch(started.json<{ authorizationUrl: string }>().authorizationUrl, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location')!);
    const cookies = Object.fromEntries(started.cookies.map((c) => [c.name, c.value]));
    const callback = await t.app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, cookies });
    expect(callback.statusCode).toBe(303);
    // Its tools are listed in the background after the connection is made: list them now.
    await t.runtime.integrationTools.discover(t.userId, true);
  }

  const tools = async (pattern: string) =>
    new Map((await t.runtime.integrationTools.forSession(t.userId, [pattern])).map((tool) => [tool.name, tool]));

  it('lists every connector as available once only the client ids are set', async () => {
    const listed = await t.app.inject({ method: 'GET', url: '/v1/integrations', headers: bearer(t.userToken) });
    const byId = new Map(
      listed.json<{ integrations: Array<{ provider: string; available: boolean }> }>().integrations.map((i) => [i.provider, i]),
    );
    for (const id of ['gmail', 'google-calendar', 'slack']) expect(byId.get(id), id).toMatchObject({ available: true });
  });

  it('connects Gmail, asking for the scope its tools need, and reads and drafts mail with the Google token at Google alone', async () => {
    gmail.addMessage({
      from: 'Dana <dana@example.com>',
      to: ['me@example.com'],
      subject: 'Launch checklist',
      text: 'Can you review it today?',
      labelIds: ['INBOX', 'UNREAD'],
    });
    await connect('gmail');
    expect(google.authorizations.at(-1)?.get('scope')).toContain('https://www.googleapis.com/auth/gmail.modify');
    const mail = await tools('gmail__*');
    expect([...mail.keys()]).toEqual(expect.arrayContaining(['gmail__list_unread', 'gmail__create_draft', 'gmail__send_email']));
    // Annotations carry through to the registry: a reader may be re-run after a crash, a sender never.
    expect(mail.get('gmail__list_unread')!.idempotent).toBe(true);
    expect(mail.get('gmail__send_email')!.idempotent).toBe(false);

    const unread = JSON.stringify(await mail.get('gmail__list_unread')!.execute({}));
    expect(unread).toContain('Launch checklist');
    await mail.get('gmail__create_draft')!.execute({ to: ['dana@example.com'], subject: 'Re: Launch checklist', body: 'Looking now.' });
    expect(gmail.drafts.size).toBe(1);
    // Every call reached the Gmail API with a token the Google OAuth server issued.
    expect(gmail.requests.length).toBeGreaterThan(0);
    for (const request of gmail.requests) expect(google.accepts(request.token ?? '')).toBe(true);
  });

  it('renews a Google token the API refuses (401) through the refresh grant, and the call goes through', async () => {
    const mail = await tools('gmail__list_unread');
    const used = gmail.requests.at(-1)!.token!;
    google.invalidate(used);
    const refreshes = google.refreshes;
    const answer = JSON.stringify(await mail.get('gmail__list_unread')!.execute({}));
    expect(answer).toContain('Launch checklist');
    expect(google.refreshes).toBe(refreshes + 1);
    expect(gmail.requests.at(-1)!.token).not.toBe(used);
  });

  it('answers a provider refusal (429) as a clear tool error, not a crashed call', async () => {
    const mail = await tools('gmail__list_unread');
    gmail.failNext('rate-limited');
    await expect(mail.get('gmail__list_unread')!.execute({})).rejects.toThrow(/limiting requests/);
  });

  it('connects Google Calendar with its two scopes and finds free time around a meeting', async () => {
    const day = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    calendar.addCalendar({ id: calendar.primaryId, summary: 'Ada' });
    calendar.addEvent(calendar.primaryId, {
      summary: 'Design review',
      start: { dateTime: `${day}T10:00:00Z` },
      end: { dateTime: `${day}T11:00:00Z` },
    });
    await connect('google-calendar');
    const scopes = google.authorizations.at(-1)?.get('scope') ?? '';
    expect(scopes).toContain('https://www.googleapis.com/auth/calendar.events');
    expect(scopes).toContain('https://www.googleapis.com/auth/calendar.readonly');
    const cal = await tools('google-calendar__*');
    const free = JSON.stringify(
      await cal.get('google-calendar__find_free_time')!.execute({
        timeMin: `${day}T09:00:00Z`,
        timeMax: `${day}T12:00:00Z`,
        durationMinutes: 30,
      }),
    ).replaceAll('\\"', '"');
    // Free before and after the meeting, never during it.
    expect(free).toMatch(new RegExp(`"start":"${day}T09:00`));
    expect(free).toMatch(new RegExp(`"start":"${day}T11:00`));
    expect(free).not.toMatch(new RegExp(`"start":"${day}T10:`));
  });

  it('connects Slack with the bot scopes and the user scope for search, and searches with the user token, posts with the bot token', async () => {
    const general = slack.addChannel({ name: 'general', botIsMember: true });
    slack.addMessage(general.id, { user: slack.userId, text: 'The launch moved to Thursday' });
    await connect('slack');
    const authorization = slackOAuth.authorizations.at(-1)!;
    expect(authorization.get('scope')).toContain('chat:write');
    expect(authorization.get('user_scope')).toBe('search:read');
    const chat = await tools('slack__*');
    const found = JSON.stringify(await chat.get('slack__search_messages')!.execute({ query: 'launch' }));
    expect(found).toContain('Thursday');
    expect(slack.requests.at(-1)).toMatchObject({ method: 'search.messages' });
    const searchToken = slack.requests.at(-1)!.token!;
    await chat.get('slack__post_message')!.execute({ channel: general.id, text: 'Noted.' });
    const post = slack.requests.at(-1)!;
    expect(post.method).toBe('chat.postMessage');
    expect(post.token).not.toBe(searchToken);
    expect(slackOAuth.accepts(post.token!)).toBe(true);
  });

  it('marks Gmail broken, with the reason, when the user revoked Agentry at Google (the refresh is refused)', async () => {
    const mail = await tools('gmail__list_unread');
    google.invalidate(gmail.requests.at(-1)!.token!);
    google.forgetRefreshTokens();
    await expect(mail.get('gmail__list_unread')!.execute({})).rejects.toThrow(/connect Gmail again/i);
    const listed = await t.app.inject({ method: 'GET', url: '/v1/integrations', headers: bearer(t.userToken) });
    const entry = listed
      .json<{ integrations: Array<{ provider: string; connection: { status: string; lastError: { code: string } | null } | null }> }>()
      .integrations.find((i) => i.provider === 'gmail')!;
    expect(entry.connection).toMatchObject({ status: 'error', lastError: { code: 'CONNECTION_BROKEN' } });
  });

  it('keeps every token out of what the user reads', async () => {
    const listed = await t.app.inject({ method: 'GET', url: '/v1/integrations', headers: bearer(t.userToken) });
    expect(listed.body).not.toContain(google.canary);
    expect(listed.body).not.toContain(slackOAuth.canary);
    const events = await t.runtime.database.db.selectFrom('events').select('data').execute();
    expect(JSON.stringify(events)).not.toContain(google.canary);
  });
});
