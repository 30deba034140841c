import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { loadCatalogue } from './catalogue.ts';

function write(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-catalogue-')), 'integrations.yaml');
  fs.writeFileSync(file, text);
  return file;
}

describe('the integrations catalogue', () => {
  it('ships Google mail and calendar, Slack, GitHub, Notion and Linear, each with its documentation', () => {
    const { catalogue } = loadConfig({}, os.tmpdir()).integrations;
    const ids = catalogue.providers.map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining(['gmail', 'google-calendar', 'slack', 'github', 'notion', 'linear']));
    for (const id of ['gmail', 'google-calendar', 'slack', 'github']) {
      const entry = catalogue.get(id);
      expect(entry.auth.type, id).toBe('oauth2');
      expect(entry.docs.oauth, id).toMatch(/^https:\/\//);
      expect(entry.docs.mcp, id).toMatch(/^https:\/\//);
      // Signing in needs the OAuth app's client id and secret, which an administrator gives.
      expect(entry.signInUnavailable, id).toMatch(/CLIENT_ID/);
    }
    // Google's entries take no key, so nothing connects them yet; Slack and GitHub take one without any app.
    for (const id of ['gmail', 'google-calendar']) expect(catalogue.get(id).unavailable, id).toMatch(/CLIENT_ID/);
    for (const id of ['slack', 'github', 'notion', 'linear']) {
      expect(catalogue.get(id).unavailable, id).toBeUndefined();
      expect(catalogue.get(id).apiKey?.label, id).toMatch(/token|key/i);
    }
    // Notion's and Linear's hosted servers speak MCP authorization: available with nothing set up.
    for (const [id, url] of [
      ['notion', 'https://mcp.notion.com/mcp'],
      ['linear', 'https://mcp.linear.app/mcp'],
    ] as const) {
      const entry = catalogue.get(id);
      expect(entry.auth, id).toEqual({ type: 'mcp' });
      expect(entry.mcp, id).toEqual({ transport: 'streamable-http', url });
      expect(entry.unavailable, id).toBeUndefined();
    }
    expect(catalogue.get('custom-mcp').unavailable).toMatch(/INTEGRATIONS_ALLOW_USER_MCP_URLS/);
  });

  it('takes a client an administrator registered for an MCP-authorization entry, and refuses one without a fixed remote server', () => {
    const { catalogue } = loadConfig({ LINEAR_CLIENT_ID: 'linear-app' }, os.tmpdir()).integrations;
    expect(catalogue.get('linear').auth).toEqual({ type: 'mcp', clientId: 'linear-app' });
    for (const mcp of ['{ transport: streamable-http, url: user }', '{ transport: stdio, command: run }']) {
      const file = write(`providers:\n  - { id: x, name: X, auth: { type: mcp }, mcp: ${mcp} }\n`);
      expect(() => loadCatalogue(file, {}, { allowUserUrls: true })).toThrow(/CONFIG_INVALID|local command|MCP authorization/);
    }
  });

  it('fills ${NAME} and ${NAME:-default} from the environment', () => {
    const { catalogue } = loadConfig(
      { GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 'secret', GMAIL_API_URL: 'https://gmail.proxy.example.com' },
      os.tmpdir(),
    ).integrations;
    const github = catalogue.get('github');
    expect(github.unavailable).toBeUndefined();
    expect(github.auth).toMatchObject({ clientId: 'id', clientSecret: 'secret' });
    expect(github.mcp).toEqual({ transport: 'streamable-http', url: 'https://api.githubcopilot.com/mcp/' });
    // Gmail runs on the built-in server (its API at the given proxy) but has no client yet; Google's two entries share one OAuth client.
    expect(catalogue.get('gmail').unavailable).toMatch(/GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET/);
    expect(catalogue.get('gmail').mcp).toEqual({ transport: 'builtin', server: 'gmail', apiUrl: 'https://gmail.proxy.example.com' });
    expect(catalogue.get('slack').mcp).toEqual({ transport: 'builtin', server: 'slack', apiUrl: 'https://slack.com/api' });
  });

  it('points a built-in entry at a remote MCP server when its URL is set, authorised by MCP authorization, not by the Google token', () => {
    const { catalogue } = loadConfig({ GMAIL_MCP_URL: 'https://mail-mcp.example.com/mcp' }, os.tmpdir()).integrations;
    const gmail = catalogue.get('gmail');
    expect(gmail.mcp).toEqual({ transport: 'streamable-http', url: 'https://mail-mcp.example.com/mcp' });
    expect(gmail.auth).toEqual({ type: 'mcp' });
    // The Google OAuth app is not needed for it.
    expect(gmail.unavailable).toBeUndefined();
    expect(catalogue.get('google-calendar').mcp).toMatchObject({ transport: 'builtin' });
    // Nor does a Slack bot token go to a remote Slack server: it offers no key then.
    const remoteSlack = loadConfig({ SLACK_MCP_URL: 'https://chat-mcp.example.com/mcp' }, os.tmpdir()).integrations.catalogue.get('slack');
    expect(remoteSlack.auth).toEqual({ type: 'mcp' });
    expect(remoteSlack.apiKey).toBeUndefined();
  });

  it('offers a key beside signing in, still available without the OAuth app, and refuses one on a keyless entry', () => {
    const file = write(
      `providers:
  - id: acme
    name: Acme
    auth: { type: oauth2, authorizationUrl: 'https://a.example/a', tokenUrl: 'https://a.example/t', clientId: '\${ACME_ID}', clientSecret: s }
    apiKey: { label: Personal token, help: Make one in your settings., docs: 'https://a.example/tokens' }
    mcp: { transport: streamable-http, url: '\${ACME_MCP_URL}' }
`,
    );
    const noApp = loadCatalogue(file, { ACME_MCP_URL: 'https://a.example/mcp' }, { allowUserUrls: false }).get('acme');
    expect(noApp).toMatchObject({ apiKey: { label: 'Personal token', docs: 'https://a.example/tokens' }, signInUnavailable: /ACME_ID/ });
    expect(noApp.unavailable).toBeUndefined();
    // The server itself is the key's too: without it, nothing connects.
    const noServer = loadCatalogue(file, { ACME_ID: 'id' }, { allowUserUrls: false }).get('acme');
    expect(noServer.unavailable).toMatch(/ACME_MCP_URL/);
    expect(noServer.signInUnavailable).toMatch(/ACME_MCP_URL/);
    expect(
      loadCatalogue(file, { ACME_ID: 'id', ACME_MCP_URL: 'https://a.example/mcp' }, { allowUserUrls: false }).get('acme').signInUnavailable,
    ).toBeUndefined();
    const keyless = write(
      `providers:\n  - { id: x, name: X, auth: { type: none }, apiKey: { label: Key }, mcp: { transport: streamable-http, url: 'https://x.example' } }\n`,
    );
    expect(() => loadCatalogue(keyless, {}, { allowUserUrls: false })).toThrow(/cannot offer a key/);
  });

  it('takes a local MCP command from the administrator’s file', () => {
    const catalogue = loadCatalogue(
      write(
        'providers:\n  - id: everything\n    name: Everything\n    auth: { type: none }\n    mcp: { transport: stdio, command: npx, args: [-y, server] }\n',
      ),
      {},
      { allowUserUrls: false },
    );
    expect(catalogue.get('everything').mcp).toEqual({ transport: 'stdio', command: 'npx', args: ['-y', 'server'], env: {} });
  });

  it('takes a default up to its closing brace, dollar signs included, and reads an unclosed one as text', () => {
    const catalogue = loadCatalogue(
      write(
        'providers:\n  - id: local\n    name: Local\n    auth: { type: none }\n    mcp: { transport: stdio, command: "${CMD:-run$1}", args: ["${A:-x-${B}", "${C}${D:-d}"] }\n',
      ),
      { B: 'b', C: 'c' },
      { allowUserUrls: false },
    );
    expect(catalogue.get('local').mcp).toMatchObject({ command: 'run$1', args: ['${A:-x-b', 'cd'] });
  });

  it('stops the start with a message naming the entry and field', () => {
    const cases: Array<[string, RegExp]> = [
      [
        'providers:\n  - id: x\n    name: X\n    auth: { type: password }\n    mcp: { transport: stdio, command: a }\n',
        /providers\.0\.auth/,
      ],
      [
        'providers:\n  - id: Bad Id\n    name: X\n    auth: { type: none }\n    mcp: { transport: stdio, command: a }\n',
        /providers\.0\.id/,
      ],
      [
        'providers:\n  - id: x\n    name: X\n    auth: { type: none }\n    mcp: { transport: streamable-http, url: "ftp://x" }\n',
        /"x" has "ftp:\/\/x"/,
      ],
      [
        'providers:\n  - id: x\n    name: X\n    auth: { type: none }\n    mcp: { transport: stdio, command: a }\n  - id: x\n    name: Y\n    auth: { type: none }\n    mcp: { transport: stdio, command: a }\n',
        /lists "x" twice/,
      ],
      ['providers: [\n', /cannot be read/],
    ];
    for (const [text, message] of cases) expect(() => loadCatalogue(write(text), {}, { allowUserUrls: false })).toThrow(message);
    expect(() => loadConfig({ INTEGRATIONS_CATALOGUE: '/nonexistent/integrations.yaml' }, os.tmpdir())).toThrow(/cannot be read/);
  });
});
