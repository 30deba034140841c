import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError, errorCodes, isAppErrorCode, isErrorCode, type AppErrorCode, type ErrorCode } from './errors.ts';
import { eventDataSchemas } from './events/index.ts';

const src = path.dirname(fileURLToPath(import.meta.url));

/** Where product code names a code it reports: an error's `code`, an AppError, a WebSocket error frame, a fallback code. */
const emittedCodePatterns = [
  /\bcode:\s*'([A-Z][A-Z0-9_]*)'/g,
  /new AppError\(\s*'([A-Z][A-Z0-9_]*)'/g,
  /sendError\([^,()]+,\s*'([A-Z][A-Z0-9_]*)'/g,
  /'([A-Z][A-Z0-9_]*)'\s+satisfies\s+ErrorCode/g,
  /code\s*\?\?\s*'([A-Z][A-Z0-9_]*)'/g,
  /\?\s*(?:\w+\.)?code\s*:\s*'([A-Z][A-Z0-9_]*)'/g,
];

/** Codes that look emitted but are not reported to anyone: each with the reason. */
const notReported: Record<string, string[]> = {
  // The outbound guard's DNS lookup answers Node's socket code as Node's own lookup would.
  [path.join('integrations', 'outbound-guard.ts')]: ['ENOTFOUND'],
};

function productFiles(): string[] {
  return (fs.readdirSync(src, { recursive: true }) as string[]).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
}

describe('the error code registry', () => {
  it('holds every code product code reports, by HTTP, event, WebSocket frame or transcript', () => {
    const missing: string[] = [];
    let found = 0;
    for (const file of productFiles()) {
      const text = fs.readFileSync(path.join(src, file), 'utf8');
      for (const pattern of emittedCodePatterns) {
        for (const [, code] of text.matchAll(pattern)) {
          found++;
          if (!isErrorCode(code) && !notReported[file]?.includes(code!)) missing.push(`${file}: ${code}`);
        }
      }
    }
    // The patterns still see the codes the agent loop and the gateway report.
    expect(found).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });

  it('checks the code of every event that carries one against the registry', () => {
    const notACode = { code: 'NOT_A_CODE', message: 'x' };
    const cases: Array<[keyof typeof eventDataSchemas, Record<string, unknown>]> = [
      ['turn.ended', { sessionId: 's', turnId: 't', status: 'failed', steps: 1, error: notACode }],
      ['tool.failed', { sessionId: 's', callId: 'c', tool: 't', durationMs: 1, error: notACode }],
      ['kb.document.status', { documentId: 'd', status: 'failed', error: notACode }],
      ['integration.error', { integrationId: 'i', provider: 'p', ...notACode }],
      [
        'integration.tool_used',
        { integrationId: 'i', provider: 'p', tool: 't', outcome: 'error', durationMs: 1, errorCode: notACode.code },
      ],
    ];
    for (const [type, data] of cases) {
      expect(eventDataSchemas[type].safeParse(data).success, type).toBe(false);
      const known = JSON.parse(JSON.stringify(data).replaceAll('NOT_A_CODE', 'STEP_LIMIT')) as unknown;
      expect(eventDataSchemas[type].safeParse(known).success, type).toBe(true);
    }
  });

  it('gives every code a message, and an HTTP error status or none', () => {
    for (const [code, entry] of Object.entries(errorCodes) as Array<[ErrorCode, { status: number | null; message: string }]>) {
      expect(entry.message.length, code).toBeGreaterThan(5);
      if (entry.status !== null) expect(entry.status >= 400 && entry.status < 600, code).toBe(true);
      expect(isAppErrorCode(code)).toBe(entry.status !== null);
    }
  });

  it('makes AppErrors only of codes with an HTTP status, with their details (tsc checks both)', () => {
    const error = new AppError('RATE_LIMITED', { details: { retryAfter: '1 minute' } });
    expect(error).toMatchObject({ status: 429, message: errorCodes.RATE_LIMITED.message, details: { retryAfter: '1 minute' } });
    // @ts-expect-error STEP_LIMIT is reported inside a turn's end, never as an HTTP answer.
    const notAnAnswer: AppErrorCode = 'STEP_LIMIT';
    expect(isAppErrorCode(notAnAnswer)).toBe(false);
    // @ts-expect-error RATE_LIMITED carries { retryAfter }, nothing else.
    expect(new AppError('RATE_LIMITED', { details: { retry: 1 } }).code).toBe('RATE_LIMITED');
  });
});
