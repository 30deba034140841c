import { sql } from 'kysely';
import type { MessageRow } from './turn-transcript.ts';

/**
 * A message row `m` as JSON, with its bigints and numerics as the text a read of the table gives
 * (schema.ts: they arrive as strings; JSON would make numbers of them, and drop a numeric's scale).
 */
export function messageJson(alias: string) {
  const m = sql.table(alias);
  return sql`to_jsonb(${m}) || jsonb_build_object('seq', ${m}.seq::text, 'cost_usd', ${m}.cost_usd::text, 'summary_through', ${m}.summary_through::text)`;
}

/** A message row as messageJson gives it: its timestamp as text. */
export type MessageJson = Omit<MessageRow, 'created_at'> & { created_at: string };

export function messageFromJson(row: MessageJson): MessageRow {
  return { ...row, created_at: new Date(row.created_at) };
}
