import { z } from 'zod';

/*
 * The value grammars settings share. A setting arrives as text from the environment or as a YAML
 * scalar from the config file, so each grammar accepts both and yields the typed value.
 */

/** A flag: YAML booleans, or true/false, 1/0, yes/no, on/off as text. */
export const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes' || v === 'on');

/** An integer within [min, max], from a number or its text. */
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A rate limit, in requests per minute. */
export const perMinute = int(1, 1_000_000);

/** The items of a comma-separated setting, trimmed, empty ones dropped. */
export function commaItems(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** A comma-separated list (empty by default) whose every item passes `valid`. */
export const commaList = (valid: (item: string) => boolean, message: string) =>
  z
    .string()
    .default('')
    .refine((text) => commaItems(text).every(valid), message);
