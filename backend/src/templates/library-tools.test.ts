import fs from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { BuiltinServers } from '../integrations/connectors/builtin-servers.ts';
import { builtinServerNames, type BuiltinServerName } from '../integrations/connectors/builtin-server-names.ts';
import { everyIntegrationTool, providerOfTool, toolPatternCovers } from '../tools/index.ts';
import { builtInTools } from './template-definition.ts';
import { loadLibrary } from './template-library.ts';

const catalogueFile = new URL('../../../config/integrations.yaml', import.meta.url);
const hostedDir = new URL('../../../config/hosted-tools/', import.meta.url);

interface CatalogueEntry {
  id: string;
  mcp: { transport: string; server?: string; url?: string };
}

/** The tools a built-in server lists, asked in process (listing calls no provider). */
async function builtinTools(name: Exclude<BuiltinServerName, 'sandbox'>): Promise<string[]> {
  const servers = new BuiltinServers({
    fetch: () => Promise.reject(new Error('listing tools calls no provider')),
    timeoutMs: 1_000,
    maxResponseBytes: 1_000,
    // Only the keyless sandbox reads its data from the database; no other server touches it.
    sandbox: undefined as never,
  });
  const server = servers.create(name, { token: async () => 'unused', userToken: async () => 'unused' }, { userId: 'unused' });
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'library-tools-test', version: '1' });
  await client.connect(clientSide);
  const { tools } = await client.listTools();
  await client.close();
  return tools.map((tool) => tool.name);
}

/**
 * Every tool a built-in template names must exist on the server its provider's catalogue entry uses
 * by default: a built-in server is asked for its tools; a hosted one is checked against the tool
 * list kept for it in config/hosted-tools/<provider>.json (the server version the catalogue targets).
 */
describe('the built-in templates name tools their servers offer', () => {
  const offered = new Map<string, string[]>();
  beforeAll(async () => {
    const { providers } = parse(fs.readFileSync(catalogueFile, 'utf8')) as { providers: CatalogueEntry[] };
    for (const entry of providers) {
      // The sandbox serves the tool sets of the providers it stands in for (checked in its own tests).
      if (entry.mcp.server === 'sandbox') continue;
      if (entry.mcp.transport === 'builtin') {
        expect(builtinServerNames).toContain(entry.mcp.server);
        offered.set(entry.id, await builtinTools(entry.mcp.server as Exclude<BuiltinServerName, 'sandbox'>));
      } else if (fs.existsSync(new URL(`${entry.id}.json`, hostedDir))) {
        const file = JSON.parse(fs.readFileSync(new URL(`${entry.id}.json`, hostedDir), 'utf8')) as {
          provider: string;
          source: string;
          tools: string[];
        };
        expect(file.provider).toBe(entry.id);
        expect(file.source).not.toBe('');
        offered.set(entry.id, file.tools);
      }
    }
  });

  it('has a tool list for every provider a template uses', () => {
    const used = new Set(loadLibrary().flatMap((t) => [...t.integrations.required, ...t.integrations.optional]));
    expect([...used].filter((p) => !offered.has(p))).toEqual([]);
  });

  it('names no tool (or pattern) that no server offers', () => {
    const missing: string[] = [];
    for (const template of loadLibrary()) {
      for (const step of template.steps ?? []) {
        for (const name of step.tools ?? []) {
          if ((builtInTools as readonly string[]).includes(name)) continue;
          const provider = providerOfTool(name);
          const candidates =
            name === everyIntegrationTool
              ? [...offered].flatMap(([p, tools]) => tools.map((t) => `${p}__${t}`))
              : (offered.get(provider ?? '') ?? []).map((t) => `${provider}__${t}`);
          if (!candidates.some((tool) => toolPatternCovers(name, tool))) missing.push(`${template.slug}: ${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
