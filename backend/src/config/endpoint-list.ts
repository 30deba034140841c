import { z } from 'zod';
import { endpointNamePattern, reservedProviderNames } from '../providers/index.ts';
import { commaItems } from './value-schemas.ts';

/**
 * A comma-separated list of `name=value` entries naming OpenAI-compatible endpoints. `secret`
 * lists never echo an entry in a message (it may be a key pasted without its name).
 */
export const endpointList = (what: 'base URL' | 'key', secret: boolean) =>
  z
    .string()
    .default('')
    .transform((text, ctx) => {
      const entries: Array<{ name: string; value: string }> = [];
      commaItems(text).forEach((entry, index) => {
        const separator = entry.indexOf('=');
        const name = entry.slice(0, Math.max(separator, 0)).trim();
        const value = entry.slice(separator + 1).trim();
        const shown = secret ? `entry ${index + 1}` : `"${entry}"`;
        if (separator <= 0 || value === '')
          return ctx.addIssue({ code: 'custom', message: `${shown} is not ${what === 'key' ? 'name=key' : 'name=baseUrl'}` });
        if (!endpointNamePattern.test(name))
          return ctx.addIssue({
            code: 'custom',
            message: `"${name}" is not an endpoint name: use lower-case letters, digits and -, starting with a letter`,
          });
        if (reservedProviderNames.includes(name))
          return ctx.addIssue({ code: 'custom', message: `"${name}" is a built-in provider; give the endpoint another name` });
        if (entries.some((e) => e.name === name)) return ctx.addIssue({ code: 'custom', message: `"${name}" appears twice` });
        if (what === 'base URL' && !/^https?:\/\/[^\s/]+/.test(value))
          return ctx.addIssue({ code: 'custom', message: `the base URL of "${name}" must be an http:// or https:// URL` });
        entries.push({ name, value: what === 'base URL' ? value.replace(/\/+$/, '') : value });
      });
      return entries;
    });
