import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, settings } from './config.ts';
import { AppError } from './errors.ts';

const emptyDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-config-'));

describe('loadConfig', () => {
  it('defaults to the embedded database under ./data on 127.0.0.1:3000', () => {
    const cwd = emptyDir();
    const config = loadConfig({}, cwd);
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.database).toEqual({ driver: 'pglite', dataDir: path.join(cwd, 'data', 'pglite') });
    expect(config.publicUrl).toBe('http://127.0.0.1:3000');
    expect(config.rateLimits).toMatchObject({ promptGeneration: 100, knowledgeSearch: 60, integrationDiscovery: 10 });
  });

  it('uses DATABASE_URL for a server deployment', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/agentry' }, emptyDir());
    expect(config.database).toEqual({ driver: 'postgres', url: 'postgres://u:p@db:5432/agentry' });
  });

  it('stops on a bad value and names the setting', () => {
    const attempt = () => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud' }, emptyDir());
    expect(attempt).toThrow(AppError);
    expect(attempt).toThrow(/PORT/);
    expect(attempt).toThrow(/LOG_LEVEL/);
  });

  it('reads the config file, lets the environment win, and rejects unknown settings in it', () => {
    const cwd = emptyDir();
    fs.writeFileSync(path.join(cwd, 'agentry.config.yaml'), 'PORT: 4000\nHOST: 0.0.0.0\nFEATURE_INTEGRATIONS: false\n');
    const config = loadConfig({ PORT: '5000' }, cwd);
    expect(config.port).toBe(5000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.features.integrations).toBe(false);

    fs.writeFileSync(path.join(cwd, 'agentry.config.yaml'), 'PROT: 4000\n');
    expect(() => loadConfig({}, cwd)).toThrow(/unknown setting PROT/);
  });

  it('fails when AGENTRY_CONFIG names a missing file', () => {
    expect(() => loadConfig({ AGENTRY_CONFIG: 'nope.yaml' }, emptyDir())).toThrow(/does not exist/);
  });

  it('understands TRUST_PROXY as a flag, a hop count or a list', () => {
    const cwd = emptyDir();
    expect(loadConfig({ TRUST_PROXY: 'true' }, cwd).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }, cwd).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
    const hops = loadConfig({ TRUST_PROXY: '1' }, cwd).trustProxy as (address: string, hop: number) => boolean;
    expect([hops('x', 0), hops('x', 1)]).toEqual([true, false]);
  });

  it('reads comma-separated settings item by item, spaces and empty items aside, and names the one with a bad item', () => {
    const cwd = emptyDir();
    const config = loadConfig(
      {
        CUSTOM_TOOL_APPROVALS: ' report_*=ask, ,wipe=deny,send_fax=ask! ',
        FAULT_INJECTION_KILL_AT: 'after-tool, ',
        OUTBOUND_ALLOWED_HOSTS: '10.0.0.0/8 ,mail.internal',
      },
      cwd,
    );
    expect(config.approvals.customTools).toEqual([
      { tool: 'report_*', decision: 'ask', locked: false },
      { tool: 'wipe', decision: 'deny', locked: false },
      { tool: 'send_fax', decision: 'ask', locked: true },
    ]);
    expect(config.sessions.killAt).toEqual(['after-tool']);
    expect(config.integrations.outboundAllowList).toEqual(['10.0.0.0/8', 'mail.internal']);
    expect(() => loadConfig({ CUSTOM_TOOL_APPROVALS: 'wipe=deny,shred=maybe' }, cwd)).toThrow(/CUSTOM_TOOL_APPROVALS/);
    expect(() => loadConfig({ FAULT_INJECTION_KILL_AT: 'after-tool,never' }, cwd)).toThrow(/FAULT_INJECTION_KILL_AT/);
    expect(() => loadConfig({ OUTBOUND_ALLOWED_HOSTS: 'not a host!' }, cwd)).toThrow(/OUTBOUND_ALLOWED_HOSTS/);
  });

  it('takes <endpoint>:<model> embedding models of MODEL_ENDPOINTS, with the endpoint and its key', () => {
    const config = loadConfig(
      {
        EMBEDDING_MODEL: 'ollama:nomic-embed-text',
        TEMPLATE_MATCH_EMBEDDING_MODEL: 'vllm:bge-m3',
        MODEL_ENDPOINTS: 'ollama=http://127.0.0.1:11434/v1,vllm=http://gpu.internal:8000/v1',
        MODEL_ENDPOINT_KEYS: 'vllm=sk-vllm',
      },
      emptyDir(),
    );
    expect(config.knowledge.embeddingModel).toBe('ollama:nomic-embed-text');
    expect(config.templates.matchEmbeddingModel).toBe('vllm:bge-m3');
    expect(config.knowledge.embedders.endpoints).toEqual([
      { name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1', apiKey: undefined },
      { name: 'vllm', baseUrl: 'http://gpu.internal:8000/v1', apiKey: 'sk-vllm' },
    ]);
  });

  it('stops the start on an embedding model whose endpoint is not in MODEL_ENDPOINTS, naming the setting and the endpoint', () => {
    for (const setting of ['EMBEDDING_MODEL', 'TEMPLATE_MATCH_EMBEDDING_MODEL']) {
      const error = (() => {
        try {
          loadConfig({ [setting]: 'ollama:nomic-embed-text', MODEL_ENDPOINTS: 'vllm=http://127.0.0.1:8000/v1' }, emptyDir());
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((error as AppError).message).toContain(
        `${setting}: Unknown embedding model "ollama:nomic-embed-text": there is no provider "ollama"`,
      );
      expect((error as AppError).message).toContain('Add it to MODEL_ENDPOINTS as ollama=<base URL>');
    }
    expect(() => loadConfig({ EMBEDDING_MODEL: 'local:offline' }, emptyDir())).toThrow(
      /EMBEDDING_MODEL: There is no local embedding model/,
    );
  });

  it('is documented: every setting appears in the README configuration table', () => {
    const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(settings).filter((name) => !readme.includes(`| \`${name}\``));
    expect(missing).toEqual([]);
  });
});
