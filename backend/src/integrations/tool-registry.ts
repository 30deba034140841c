import { createHash } from 'node:crypto';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Transaction } from 'kysely';
import { toJsonText, type DatabaseSchema, type Executor, type PostgresDatabase, type ToolFlag } from '../database/index.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import { standInProvider } from './stand-ins.ts';

/** A tool of a connected integration, as the registry keeps it. */
export interface RegisteredTool {
  connectionId: string;
  provider: string;
  /** What the model calls it: `provider__tool`, at most 64 characters. */
  name: string;
  /** What the MCP server calls it. */
  remoteName: string;
  description: string;
  inputSchema: Record<string, unknown>;
  idempotent: boolean;
  /** Its server said readOnlyHint, and that server's annotations are trusted: allowed without asking by default. */
  readOnly: boolean;
  flags: ToolFlag[];
}

export interface ToolsChange {
  added: string[];
  removed: string[];
  changed: string[];
  /** The added or changed tools that carry a warning flag, with their flags. */
  flagged: Array<{ name: string; flags: ToolFlag[] }>;
}

const maxTools = 500;
const maxDescription = 2000;
const maxSchemaBytes = 64 * 1024;

/*
 * Text that hides from a reader (zero-width and direction marks, Unicode tag characters) and
 * phrases that address the model rather than describe a tool. A description with either is
 * flagged; the model sees it marked as the integration's text, never as the system's.
 */
const invisible = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]|[\u{E0000}-\u{E007F}]/u;
const allInvisible = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]|[\u{E0000}-\u{E007F}]/gu;
const instructionLike =
  /\b(ignore|disregard|forget)\b.{0,40}\b(previous|prior|above|earlier|all|other)\b.{0,20}\b(instructions?|prompts?|rules)\b|\b(system prompt|developer message)\b|<\/?\s*(important|system|instructions?|secret)\s*>|\bdo not (tell|inform|mention|show)\b.{0,20}\b(the )?user\b|\b(before|instead of) (using|calling) (this|any other) tool\b/i;

/**
 * The tool registry: per connection, each tool its MCP server lists, under a name namespaced by
 * provider (so two integrations offering `search` stay distinct). A listing replaces the
 * connection's tools in one transaction; what was added, removed or changed (a description that
 * differs from the one seen before is flagged) is told to the user's integrations topic and to
 * their running sessions' chats.
 */
export class ToolRegistry {
  private readonly listeners = new Set<(change: { userId: string; connectionId?: string }) => void>();

  constructor(
    private readonly database: PostgresDatabase,
    private readonly bus: EventBus,
  ) {
    // Another instance's change arrives as its event; this instance's are heard at commit (below).
    bus.subscribe((event) => {
      if (event.type === 'integration.tool_used' || !(event.type.startsWith('integration.') || event.type === 'tools.changed')) return;
      if (event.topic !== 'integrations') return; // the copies sent to session chats say the same
      const connectionId = (event.data as { integrationId?: string }).integrationId;
      this.notify({ userId: event.userId, ...(connectionId ? { connectionId } : {}) });
    });
  }

  /** Hears every change of a user's connections or tools, on any instance (for caches). */
  onChange(listener: (change: { userId: string; connectionId?: string }) => void): void {
    this.listeners.add(listener);
  }

  /**
   * `trustHints`: whether the server's annotations may mark a tool idempotent (re-run after a
   * crash); not for a server a user named, whose annotations are theirs to choose. `standsIn`: the
   * providers the connection's entry stands in for, whose tools keep their names (see stand-ins.ts).
   */
  async replace(
    connection: { connectionId: string; userId: string; provider: string; trustHints: boolean; standsIn?: readonly string[] },
    listed: readonly Tool[],
  ): Promise<ToolsChange> {
    return this.database.transaction(async (tx) => {
      const owner = await tx
        .selectFrom('integration_connections')
        .select('id')
        .where('id', '=', connection.connectionId)
        .forUpdate()
        .executeTakeFirst();
      if (!owner) return { added: [], removed: [], changed: [], flagged: [] }; // disconnected meanwhile
      const before = new Map(
        (await tx.selectFrom('integration_tools').selectAll().where('connection_id', '=', connection.connectionId).execute()).map((row) => [
          row.remote_name,
          row,
        ]),
      );
      const taken = new Set<string>();
      const unique = [...new Map(listed.map((tool) => [tool.name, tool])).values()];
      const next = unique.slice(0, maxTools).map((tool) => {
        const hash = createHash('sha256')
          .update(tool.description ?? '')
          .digest('hex');
        const previous = before.get(tool.name);
        const flags = new Set<ToolFlag>(previous?.flags.filter((f) => f === 'description-changed') ?? []);
        if (previous && previous.description_hash !== hash) flags.add('description-changed');
        // The schema's own texts (property descriptions, titles, enums) reach the model too.
        const texts = `${tool.description ?? ''}\n${JSON.stringify(tool.inputSchema ?? {})}`;
        if (instructionLike.test(texts) || invisible.test(texts)) flags.add('hidden-instructions');
        const stoodIn = standInProvider(connection.standsIn ?? [], tool.name);
        const name = stoodIn
          ? exposedName(stoodIn, tool.name.slice(stoodIn.length + 2), taken)
          : exposedName(connection.provider, tool.name, taken);
        taken.add(name);
        return {
          connection_id: connection.connectionId,
          user_id: connection.userId,
          provider: stoodIn ?? connection.provider,
          name,
          remote_name: tool.name,
          description: (tool.description ?? '').replace(allInvisible, '').replace(/\s+/g, ' ').trim().slice(0, maxDescription),
          input_schema: toJsonText(inputSchemaOf(tool)),
          idempotent: connection.trustHints && (tool.annotations?.readOnlyHint === true || tool.annotations?.idempotentHint === true),
          read_only: connection.trustHints && tool.annotations?.readOnlyHint === true,
          description_hash: hash,
          flags: toJsonText([...flags]),
          changed: Boolean(previous && (previous.description_hash !== hash || previous.name !== name)),
          warnings: [...flags],
        };
      });
      const nextNames = new Set(next.map((t) => t.remote_name));
      const news = next.filter((t) => t.changed || !before.has(t.remote_name));
      const change: ToolsChange = {
        added: next.filter((t) => !before.has(t.remote_name)).map((t) => t.name),
        removed: [...before.values()].filter((row) => !nextNames.has(row.remote_name)).map((row) => row.name),
        changed: next.filter((t) => t.changed).map((t) => t.name),
        flagged: news.filter((t) => t.warnings.length > 0).map((t) => ({ name: t.name, flags: t.warnings })),
      };
      await tx.deleteFrom('integration_tools').where('connection_id', '=', connection.connectionId).execute();
      if (next.length > 0) {
        await tx
          .insertInto('integration_tools')
          .values(next.map(({ changed: _changed, warnings: _warnings, ...row }) => row))
          .execute();
      }
      if (change.added.length + change.removed.length + change.changed.length > 0) {
        await this.announce(tx, connection.userId, { type: 'tools.changed', data: { integrationId: connection.connectionId, ...change } });
      }
      return change;
    });
  }

  /**
   * The tools of the user's usable connections (connected or degraded). A stand-in's tool for a
   * provider (its row's provider is not its connection's) is left out while the user has a usable
   * connection to that provider itself: the real one wins (see stand-ins.ts).
   */
  async forUser(userId: string): Promise<RegisteredTool[]> {
    const rows = await this.database.db
      .selectFrom('integration_tools as t')
      .innerJoin('integration_connections as c', 'c.id', 't.connection_id')
      .selectAll('t')
      .where('t.user_id', '=', userId)
      .where('c.status', 'in', ['connected', 'degraded'])
      .where(({ or, eb, not, exists, selectFrom }) =>
        or([
          eb('t.provider', '=', eb.ref('c.provider')),
          not(
            exists(
              selectFrom('integration_connections as real')
                .select('real.id')
                .whereRef('real.user_id', '=', 't.user_id')
                .whereRef('real.provider', '=', 't.provider')
                .where('real.status', 'in', ['connected', 'degraded']),
            ),
          ),
        ]),
      )
      .orderBy('t.name')
      .execute();
    return rows.map((row) => ({
      connectionId: row.connection_id,
      provider: row.provider,
      name: row.name,
      remoteName: row.remote_name,
      description: row.description,
      inputSchema: row.input_schema as Record<string, unknown>,
      idempotent: row.idempotent,
      readOnly: row.read_only,
      flags: row.flags,
    }));
  }

  private notify(change: { userId: string; connectionId?: string }): void {
    for (const listener of this.listeners) listener(change);
  }

  /** The tools of one connection, by exposed name: what a disconnect removes. */
  async namesOf(executor: Executor, connectionId: string): Promise<string[]> {
    return (
      await executor.selectFrom('integration_tools').select('name').where('connection_id', '=', connectionId).orderBy('name').execute()
    ).map((r) => r.name);
  }

  /**
   * Tells the user (their integrations topic) and the chats of their running sessions about a
   * change of their tools, in the transaction that makes it.
   */
  async announce(tx: Transaction<DatabaseSchema>, userId: string, event: AgentryEvent): Promise<void> {
    const connectionId = (event.data as { integrationId?: string }).integrationId;
    this.database.afterCommit(tx, () => this.notify({ userId, ...(connectionId ? { connectionId } : {}) }));
    const sessions = await tx
      .selectFrom('agent_sessions')
      .select('id')
      .where('user_id', '=', userId)
      .where('status', '=', 'running')
      .orderBy('last_active_at', 'desc')
      .limit(100)
      .execute();
    await this.bus.publish(
      tx,
      { userId, topic: 'integrations', event },
      ...sessions.map((s) => ({ userId, topic: `session:${s.id}`, event })),
    );
  }
}

/** `provider__tool`, in the characters and length every model API accepts, distinct within the connection. */
function exposedName(provider: string, remote: string, taken: ReadonlySet<string>): string {
  const plain = `${provider}__${remote.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  if (plain.length <= 64 && !taken.has(plain)) return plain;
  const suffix = createHash('sha256').update(remote).digest('hex').slice(0, 8);
  return `${plain.slice(0, 64 - 9)}_${suffix}`;
}

/** The tool's input schema as an object schema of bounded size (a missing or huge one takes any object). */
function inputSchemaOf(tool: Tool): Record<string, unknown> {
  const schema = tool.inputSchema as Record<string, unknown> | undefined;
  if (!schema || schema['type'] !== 'object' || JSON.stringify(schema).length > maxSchemaBytes) return { type: 'object', properties: {} };
  return schema;
}
