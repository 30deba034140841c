import { z } from 'zod';

/** The check route schemas make with `z.uuid()`, so a service accepts exactly the ids a route does. */
const uuid = z.uuid();

/**
 * True for a well-formed UUID: the one check for text that is about to meet a `uuid` column.
 * Text that passes never makes PostgreSQL fail with "invalid input syntax for type uuid"; text
 * that fails (such as 36 dashes) names no row, so callers answer "not found" or refuse it
 * without asking the database.
 */
export function isUuid(text: string): boolean {
  return uuid.safeParse(text).success;
}
