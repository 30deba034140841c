import { z } from 'zod';
import { isValidTimeZone } from '../../accounts/index.ts';

/** Shapes shared by several routes' schemas (and so by the OpenAPI document). */
export const publicUserSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  timezone: z.string(),
  admin: z.boolean(),
  disabled: z.boolean(),
  createdAt: z.string(),
});

export const tokenInfoSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().describe('The first characters of the token, to tell tokens apart'),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});

export const displayName = z.string().trim().max(200);
export const timeZone = z.string().max(100).refine(isValidTimeZone, 'must be an IANA time zone such as "Europe/Berlin" or "UTC"');
export const email = z.email().max(320);
/** Ids are UUIDs; compared as stored (lower case), whatever case the client sent. */
export const idParams = z.object({ id: z.uuid().transform((id) => id.toLowerCase()) });
export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) });
