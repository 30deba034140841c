import type { Transaction } from 'kysely';
import { toJsonText, type DatabaseSchema, type Executor, type JsonValue, type PostgresDatabase } from '../../../database/index.ts';
import type { CalendarEvent } from '../google-calendar/index.ts';
import { ProviderError } from '../provider-api.ts';
import { sampleData } from './sample-data.ts';

/** Rows one user's sandbox may hold, per kind: enough to play with, never enough to fill the database. */
export const sandboxLimits = { mail: 2_000, events: 1_000, chat: 2_000 } as const;

type Kind = keyof typeof sandboxLimits;
const tables = { mail: 'sandbox_mail', events: 'sandbox_events', chat: 'sandbox_chat' } as const;
const nouns = { mail: 'messages and drafts', events: 'calendar events', chat: 'chat messages' } as const;

export interface SandboxDataDeps {
  database: PostgresDatabase;
  /** The clock the sample data is placed by. */
  now?: () => number;
}

/**
 * One user's sandbox data as a whole: made from the sample at first use (once: what the user
 * changes afterwards stays), put back by a reset, and capped per kind. The mailbox, calendar and
 * workspace each read and write their own table through `database`.
 */
export class SandboxData {
  readonly database: PostgresDatabase;
  private readonly now: () => number;

  constructor(deps: SandboxDataDeps) {
    this.database = deps.database;
    this.now = deps.now ?? Date.now;
  }

  /** The current time, by the clock the sample data uses. */
  time(): number {
    return this.now();
  }

  /** Makes the user's sample data unless it was made before; two callers at once make it once. */
  async ensure(userId: string): Promise<void> {
    await this.database.transaction(async (tx) => {
      const created = await tx
        .insertInto('sandbox_accounts')
        .values({ user_id: userId })
        .onConflict((c) => c.column('user_id').doNothing())
        .returning('user_id')
        .executeTakeFirst();
      if (created) await this.fill(tx, userId);
    });
  }

  /** Puts the sample data back: everything the user's sandbox holds is replaced by the sample, placed at the current time. */
  async reset(userId: string): Promise<{ messages: number; events: number; chatMessages: number }> {
    return this.database.transaction(async (tx) => {
      await tx
        .insertInto('sandbox_accounts')
        .values({ user_id: userId })
        .onConflict((c) => c.column('user_id').doUpdateSet({ seeded_at: new Date() }))
        .execute();
      for (const table of Object.values(tables)) await tx.deleteFrom(table).where('user_id', '=', userId).execute();
      return this.fill(tx, userId);
    });
  }

  /** Refuses a write that would take the user's sandbox past its cap, with a message the model can act on. */
  async checkRoom(executor: Executor, userId: string, kind: Kind): Promise<void> {
    const { count } = await executor
      .selectFrom(tables[kind])
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    if (Number(count) >= sandboxLimits[kind])
      throw new ProviderError(
        `The sandbox holds at most ${sandboxLimits[kind]} ${nouns[kind]}, and this one is full: reset the sandbox (Integrations → Sandbox → Reset) to start again.`,
        507,
      );
  }

  private async fill(tx: Transaction<DatabaseSchema>, userId: string) {
    const sample = sampleData(this.now());
    await tx
      .insertInto('sandbox_mail')
      .values(
        sample.mail.map((m) => ({
          user_id: userId,
          id: m.id,
          thread_id: m.threadId,
          draft_id: m.draftId ?? null,
          received_at: m.receivedAt,
          label_ids: toJsonText(m.labelIds),
          message: m.message,
        })),
      )
      .execute();
    await tx
      .insertInto('sandbox_events')
      .values(
        sample.events.map(({ calendarId, event }) => ({
          user_id: userId,
          calendar_id: calendarId,
          id: event.id,
          ...eventColumns(event),
        })),
      )
      .execute();
    await tx
      .insertInto('sandbox_chat')
      .values(
        sample.chat.map((c) => ({ user_id: userId, channel: c.channel, ts: c.ts, thread_ts: c.threadTs ?? null, message: c.message })),
      )
      .execute();
    return { messages: sample.mail.length, events: sample.events.length, chatMessages: sample.chat.length };
  }
}

/** The columns an event is searched and ordered by; an all-day event spans its dates in UTC. */
export function eventColumns(event: CalendarEvent) {
  const instant = (time: typeof event.start) => new Date('date' in time ? `${time.date}T00:00:00Z` : time.dateTime);
  return {
    starts_at: instant(event.start),
    ends_at: instant(event.end),
    status: event.status,
    event: JSON.parse(JSON.stringify(event)) as Record<string, JsonValue>,
  };
}
