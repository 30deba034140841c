import { z } from 'zod';
import { commaItems, commaList } from './value-schemas.ts';

/** `24h`, `30m`, `90s`, `2d` or a number of seconds, as milliseconds; `0` is none. */
const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = /^\s*(\d{1,9})\s*([smhd]?)\s*$/.exec(String(value));
  if (!match) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration: a number of seconds, or a number with s, m, h or d (24h)' });
    return z.NEVER;
  }
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit * 1000;
});

/** A custom tool's name or a `*` pattern, `=`, a decision; `ask!` is a locked ask. */
const customToolRule = /^([a-z*][a-z0-9_*]{0,63})=(allow|ask!?|deny)$/;

/** Human approval of tool calls: how long a call waits, and the administrator's rules for custom tools. */
export const approvalSettings = {
  APPROVAL_TIMEOUT: duration
    .default(24 * 3600 * 1000)
    .describe(
      'How long a tool call waits for the user to approve it (24h, 30m, 90s, or seconds) before it is denied as expired and the turn goes on; 0 waits for ever.',
    ),
  CUSTOM_TOOL_APPROVALS: commaList(
    (v) => customToolRule.test(v),
    'must be comma-separated name=decision pairs (report_*=ask, wipe=deny, send_fax=ask! for an ask no agent or user can loosen)',
  ).describe(
    "The administrator's approval rules for custom tools: comma-separated name=allow|ask|ask!|deny (ask!: locked, no agent or user rule loosens it). Integration tools take theirs from the catalogue.",
  ),
} as const;

/** The administrator's rules of CUSTOM_TOOL_APPROVALS, parsed. */
export function customToolApprovals(value: string): Array<{ tool: string; decision: 'allow' | 'ask' | 'deny'; locked: boolean }> {
  return commaItems(value)
    .map((v) => customToolRule.exec(v))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ tool: m[1]!, decision: m[2] === 'ask!' ? 'ask' : (m[2] as 'allow' | 'ask' | 'deny'), locked: m[2] === 'ask!' }));
}
