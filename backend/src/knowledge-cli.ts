/**
 * `agentry kb …`: the knowledge base from the shell. These commands talk to a running server over
 * its HTTP API with your token (they never open the database), so they work against a remote
 * server and while the embedded one runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';

type Print = (line: string) => void;

const documentExtensions = new Set(['.txt', '.md', '.markdown', '.html', '.htm', '.pdf', '.docx']);

export const kbUsage = `  kb ingest PATH… [--tags a,b] [--source S]
                                   upload files, and the documents in folders, and wait for them
  kb search QUERY [--mode hybrid|vector|keyword] [--limit N]
                                   search your documents
  kb reindex                       re-embed everything with EMBEDDING_MODEL (admin)
     kb commands reach the server at --url (default PUBLIC_URL) with --token (default $AGENTRY_TOKEN)`;

interface Client {
  request<T>(method: string, route: string, body?: unknown): Promise<T>;
  upload<T>(file: string, fields: Record<string, string>): Promise<T>;
}

function client(baseUrl: string, token: string): Client {
  async function send<T>(method: string, route: string, init: RequestInit): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${route}`, { ...init, method, headers: { authorization: `Bearer ${token}`, ...init.headers } });
    } catch (error) {
      throw new AppError(
        'DATABASE_UNAVAILABLE',
        `Cannot reach the server at ${baseUrl}: ${(error as Error).cause ?? (error as Error).message}. Is it running? Use --url.`,
      );
    }
    const text = await response.text();
    const json = text ? (JSON.parse(text) as { error?: { code: string; message: string } }) : {};
    if (!response.ok) throw new Error(`${json.error?.code ?? response.status}: ${json.error?.message ?? text}`);
    return json as T;
  }
  return {
    request: (method, route, body) =>
      send(method, route, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    upload: (file, fields) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.set(name, value);
      form.set('file', new Blob([fs.readFileSync(file)]), path.basename(file));
      return send('POST', '/v1/knowledge/documents', { body: form });
    },
  };
}

/** The files named, and the documents inside the folders named, recursively. */
function collectFiles(paths: string[]): string[] {
  const files: string[] = [];
  const walk = (entry: string, explicit: boolean) => {
    const stat = fs.statSync(entry, { throwIfNoEntry: false });
    if (!stat) throw new AppError('VALIDATION_FAILED', `${entry} does not exist.`);
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(entry).sort()) if (!name.startsWith('.')) walk(path.join(entry, name), false);
    } else if (explicit || documentExtensions.has(path.extname(entry).toLowerCase())) {
      files.push(entry);
    }
  };
  for (const entry of paths) walk(entry, true);
  return files;
}

interface DocumentReply {
  document: { id: string; status: string; error: { code: string; message: string } | null; chunkCount: number };
}

export async function kb(config: Config, args: string[], print: Print): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      tags: { type: 'string' },
      source: { type: 'string' },
      mode: { type: 'string' },
      limit: { type: 'string' },
    },
    allowPositionals: true,
  });
  const [action, ...rest] = positionals;
  const token = values.token ?? process.env.AGENTRY_TOKEN;
  if (!token) throw new AppError('UNAUTHORIZED', 'kb commands need your API token: --token agt_… or AGENTRY_TOKEN.');
  const api = client((values.url ?? config.publicUrl).replace(/\/$/, ''), token);

  if (action === 'ingest') {
    const files = collectFiles(rest);
    if (files.length === 0) throw new AppError('VALIDATION_FAILED', 'Name the files or folders to ingest.');
    const fields: Record<string, string> = {};
    if (values.tags) fields.tags = values.tags;
    if (values.source) fields.source = values.source;
    const bar = new cliProgress.SingleBar(
      {
        format: 'ingesting [{bar}] {value}/{total} documents  {file}',
        stream: process.stderr,
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 1000,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(files.length, 0, { file: '' });
    const waiting = new Map<string, string>();
    const failures: string[] = [];
    let chunks = 0;
    const settle = (file: string, document: DocumentReply['document']) => {
      if (document.status === 'failed') failures.push(`${file}: ${document.error?.code}: ${document.error?.message}`);
      else chunks += document.chunkCount;
      bar.increment(1, { file: path.basename(file) });
    };
    for (const file of files) {
      try {
        const { document } = await api.upload<DocumentReply>(file, fields);
        if (document.status === 'completed' || document.status === 'failed') settle(file, document);
        else waiting.set(document.id, file);
      } catch (error) {
        failures.push(`${file}: ${(error as Error).message}`);
        bar.increment(1, { file: path.basename(file) });
      }
    }
    while (waiting.size > 0) {
      await sleep(250);
      for (const [id, file] of waiting) {
        const { document } = await api.request<DocumentReply>('GET', `/v1/knowledge/documents/${id}`);
        if (document.status === 'completed' || document.status === 'failed') {
          waiting.delete(id);
          settle(file, document);
        }
      }
    }
    bar.stop();
    print(`Ingested ${files.length - failures.length} of ${files.length} documents (${chunks} chunks).`);
    for (const failure of failures) print(`failed: ${failure}`);
    if (failures.length > 0) process.exitCode = 1;
    return;
  }
  if (action === 'search') {
    const query = rest.join(' ');
    if (!query) throw new AppError('VALIDATION_FAILED', 'Say what to search for: agentry kb search "…"');
    const body = { query, ...(values.mode ? { mode: values.mode } : {}), ...(values.limit ? { limit: Number(values.limit) } : {}) };
    const { results } = await api.request<{ results: Array<{ title: string; documentId: string; content: string; similarity: number }> }>(
      'POST',
      '/v1/knowledge/search',
      body,
    );
    if (results.length === 0) print('No results.');
    for (const [i, r] of results.entries()) {
      print(`${i + 1}. ${r.title}  (similarity ${r.similarity.toFixed(3)}, document ${r.documentId})`);
      print(`   ${r.content.replace(/\s+/g, ' ').slice(0, 200)}`);
    }
    return;
  }
  if (action === 'reindex') {
    const { reindex } = await api.request<{ reindex: { state: string; activeModel: string; targetModel: string | null; total: number } }>(
      'POST',
      '/v1/knowledge/reindex',
    );
    print(
      reindex.targetModel
        ? `Re-embedding every chunk with ${reindex.targetModel} in the background; searches use ${reindex.activeModel} until it completes.`
        : `Nothing to do: every chunk is embedded with ${reindex.activeModel}, the configured model.`,
    );
    return;
  }
  throw new AppError('VALIDATION_FAILED', `Unknown kb action "${action ?? ''}".\n\n${kbUsage}`);
}
