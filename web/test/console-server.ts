import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startFakeMcpServer, type FakeMcpServer } from '../../backend/test/fake-mcp-server.ts';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../backend/test/fake-oauth-server.ts';
import { freePort } from '../../backend/test/postgres-cluster.ts';
import { startServer, type ServerProcess } from '../../backend/test/server-process.ts';

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Debian's Chromium, started the way this machine's closed network needs. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

export interface ConsoleHarness {
  /** The server's origin, which is also its PUBLIC_URL. */
  url: string;
  /** The admin's API token, as the first start printed it. */
  token: string;
  dataDir: string;
  server: ServerProcess;
  browser: Browser;
  oauth: FakeOAuthServer;
  /** An MCP server with mail tools behind the OAuth server (catalogue entry `mail`, "Mail"). */
  mail: FakeMcpServer;
  /** A new browser context (its own cookies), optionally at a phone's width. */
  context(options?: { width?: number; dark?: boolean }): Promise<BrowserContext>;
  /** A page in a new context, signed in through the sign-in form. */
  signedInPage(options?: { width?: number; dark?: boolean; path?: string }): Promise<Page>;
  /** A JSON call to the API with the admin's token. */
  call<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>;
  /**
   * Connects Mail for the admin the way a browser would, outside the page: the connect answer's
   * binding cookie goes with the provider's redirect back to the callback.
   */
  connectMail(): Promise<void>;
  /** Stops the server (SIGTERM) and starts it again on the same data directory and port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The console as a user meets it: the real server started as `npm start` starts it, on a fresh
 * embedded database, with a local OAuth provider and MCP server in its catalogue, driven through
 * Debian's Chromium. The console must be built first (the suite's global setup builds it).
 */
/** The one key the Notes entry's server takes. */
export const notesKey = 'notes-key-0123456789';

export async function startConsoleServer(
  env: Record<string, string> = {},
  options: { pgliteTemplate?: string } = {},
): Promise<ConsoleHarness> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-console-'));
  // An initialised embedded database to copy saves the server an initdb.
  if (options.pgliteTemplate) fs.cpSync(options.pgliteTemplate, path.join(dataDir, 'pglite'), { recursive: true });
  const oauth = await startFakeOAuthServer({ redirectUri: `${url}/v1/oauth/callback` });
  // It also takes one key, for Notes: an entry connected with a key, its sign-in not set up.
  const mail = await startFakeMcpServer('mail', { accepts: (token) => oauth.accepts(token) || token === notesKey });
  const catalogue = path.join(dataDir, 'integrations.yaml');
  fs.writeFileSync(
    catalogue,
    `providers:
  - id: mail
    name: Mail
    description: Read and send email.
    auth: { type: oauth2, authorizationUrl: '${oauth.url}/authorize', tokenUrl: '${oauth.url}/token', revocationUrl: '${oauth.url}/revoke', clientId: ${oauth.clientId}, clientSecret: ${oauth.clientSecret} }
    mcp: { transport: streamable-http, url: '${mail.url}' }
  - id: notes
    name: Notes
    description: Notes, with a key.
    auth: { type: oauth2, authorizationUrl: 'https://notes.invalid/a', tokenUrl: 'https://notes.invalid/t', clientId: '\${NOTES_CLIENT_ID}', clientSecret: x }
    apiKey: { label: Access token, help: Make one under Settings., docs: 'https://notes.invalid/tokens' }
    mcp: { transport: streamable-http, url: '${mail.url}' }
`,
  );
  const serverEnv = {
    PORT: String(port),
    PUBLIC_URL: url,
    AGENTRY_DATA_DIR: dataDir,
    INTEGRATIONS_CATALOGUE: catalogue,
    OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
    ...env,
  };
  let server = await startServer(serverEnv);
  const token = /Admin token: (agt_\S+)/.exec(server.output())?.[1];
  if (!token) throw new Error(`no admin token in the first start's output:\n${server.output()}`);
  const browser = await launchBrowser();

  const harness: ConsoleHarness = {
    url,
    token,
    dataDir,
    get server() {
      return server;
    },
    browser,
    oauth,
    mail,
    context: ({ width, dark } = {}) =>
      browser.newContext({
        baseURL: url,
        viewport: width ? { width, height: 800 } : { width: 1280, height: 900 },
        colorScheme: dark ? 'dark' : 'light',
      }),
    async signedInPage(options = {}) {
      const context = await harness.context(options);
      const page = await context.newPage();
      await page.goto(options.path ?? '/agents');
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      await page.waitForFunction(() => document.querySelector('.live')?.textContent === 'Live');
      return page;
    },
    async call<T>(method: string, route: string, body?: unknown) {
      const response = await fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
    },
    async connectMail() {
      const started = await fetch(`${url}/v1/integrations/mail/connect`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      const { authorizationUrl } = (await started.json()) as { authorizationUrl: string };
      const binding = started.headers
        .getSetCookie()
        .map((cookie) => cookie.split(';')[0])
        .join('; ');
      const consent = await fetch(authorizationUrl, { redirect: 'manual' });
      const back = await fetch(consent.headers.get('location')!, { redirect: 'manual', headers: { cookie: binding } });
      if (back.status >= 400) throw new Error(`connecting Mail failed: ${back.status} ${await back.text()}`);
    },
    async restart() {
      server.child.kill('SIGTERM');
      await server.exited;
      server = await startServer(serverEnv);
    },
    async close() {
      await browser.close().catch(() => undefined);
      server.child.kill('SIGTERM');
      await server.exited;
      await Promise.all([oauth.close(), mail.close()]);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** axe's serious and critical violations on the page as it is now, each named with where it is. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run: (
            context: Document,
            options: object,
          ) => Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }> }>;
        };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.slice(0, 3).map((n) => n.target))}`);
  });
}
