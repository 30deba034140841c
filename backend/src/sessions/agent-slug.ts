import type { PostgresDatabase } from '../database/index.ts';

/** What a slug may be: lower-case letters, digits and single hyphens inside, at most 60 characters. */
export const agentSlugPattern = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const agentSlugMaxLength = 60;

/**
 * The slug a name suggests: lower case, every run of other characters one hyphen, trimmed to 60.
 * Names are at most 200 characters, and the patterns are single character classes (linear time).
 */
export function slugFromName(name: string): string {
  const slug = name
    .slice(0, 400)
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, agentSlugMaxLength);
  return trimHyphens(slug) || 'agent';
}

/** Without a pattern: `-+$` backtracks quadratically over a long run of hyphens. */
function trimHyphens(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text[start] === '-') start++;
  while (end > start && text[end - 1] === '-') end--;
  return text.slice(start, end);
}

/**
 * A slug for a new agent that no other agent of the user has: the name's own, or it followed by
 * -2, -3, … (the first free one). Two creations racing for one slug meet the unique index; the
 * loser is told (AGENT_SLUG_TAKEN) rather than given a surprise name.
 */
export async function freeAgentSlug(database: PostgresDatabase, userId: string, base: string): Promise<string> {
  const stem = trimHyphens(base.slice(0, agentSlugMaxLength - 4));
  const taken = new Set(
    (
      await database.db
        .selectFrom('agents')
        .select('slug')
        .where('user_id', '=', userId)
        .where((eb) => eb.or([eb('slug', '=', base), eb('slug', 'like', `${stem}-%`)]))
        .execute()
    ).map((row) => row.slug),
  );
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${stem}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}
