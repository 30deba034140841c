/**
 * `agentry triggers …`: your triggers from the shell. Like the kb commands, these talk to a running
 * server over its HTTP API with your token (they never open the database), so a firing is started
 * by the server's own worker, and they work while the embedded server runs.
 */
import { parseArgs } from 'node:util';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';

type Print = (line: string) => void;

export const triggersUsage = `  triggers list                    list your triggers: id, kind, status, next fire time, name
  triggers fire ID                 fire a trigger now; prints the run's id
     triggers commands reach the server at --url (default PUBLIC_URL) with --token (default $AGENTRY_TOKEN)`;

interface TriggerLine {
  id: string;
  name: string;
  kind: string;
  status: string;
  nextFireAt: string | null;
}

export async function triggers(config: Config, args: string[], print: Print): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { url: { type: 'string' }, token: { type: 'string' } },
    allowPositionals: true,
  });
  const [action, id] = positionals;
  const token = values.token ?? process.env.AGENTRY_TOKEN;
  if (!token) throw new AppError('UNAUTHORIZED', 'triggers commands need your API token: --token agt_… or AGENTRY_TOKEN.');
  const base = (values.url ?? config.publicUrl).replace(/\/$/, '');
  const request = async <T>(method: string, route: string): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${base}${route}`, { method, headers: { authorization: `Bearer ${token}` } });
    } catch (error) {
      throw new AppError(
        'DATABASE_UNAVAILABLE',
        `Cannot reach the server at ${base}: ${(error as Error).message}. Is it running? Use --url.`,
      );
    }
    const text = await response.text();
    const json = text ? (JSON.parse(text) as { error?: { code: string; message: string } }) : {};
    if (!response.ok) throw new Error(`${json.error?.code ?? response.status}: ${json.error?.message ?? text}`);
    return json as T;
  };
  if (action === 'list') {
    const { triggers: list } = await request<{ triggers: TriggerLine[] }>('GET', '/v1/triggers');
    if (list.length === 0) return print('You have no triggers.');
    for (const t of list) print([t.id, t.kind.padEnd(11), t.status.padEnd(6), (t.nextFireAt ?? '-').padEnd(24), t.name].join('  '));
    return;
  }
  if (action === 'fire') {
    if (!id) throw new AppError('VALIDATION_FAILED', 'Name the trigger to fire: agentry triggers fire ID.');
    const { run } = await request<{ run: { id: string } }>('POST', `/v1/triggers/${encodeURIComponent(id)}/fire`);
    return print(`Fired: run ${run.id}. Follow it with GET /v1/triggers/${id}/runs or on the console's Triggers page.`);
  }
  throw new AppError('VALIDATION_FAILED', `Unknown triggers action "${action ?? ''}".\n\n${triggersUsage}`);
}
