import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

interface Labelled {
  message: string;
  expected: string | null;
}

const labelled = (
  JSON.parse(fs.readFileSync(new URL('../../test/template-match-set.json', import.meta.url), 'utf8')) as { messages: Labelled[] }
).messages;

describe('matching chat messages to templates', () => {
  let t: TestApp;
  let slugs: Map<string, string>;
  beforeAll(async () => {
    t = await createTestApp('pglite');
    const list = await t.app.inject({ method: 'GET', url: '/v1/templates', headers: bearer(t.userToken) });
    slugs = new Map(list.json().templates.map((template: { id: string; slug: string }) => [template.id, template.slug]));
  });
  afterAll(() => t.close());

  const match = async (message: string, token = t.userToken) => {
    const response = await t.app.inject({ method: 'POST', url: '/v1/templates/match', headers: bearer(token), payload: { message } });
    expect(response.statusCode).toBe(200);
    return response.json() as {
      matches: Array<{ templateId: string; name: string; confidence: number; available: boolean }>;
      threshold: number;
    };
  };

  it('ranks the right template first for labelled messages, and keeps unrelated ones under the threshold', async () => {
    expect(labelled.length).toBeGreaterThanOrEqual(40);
    let correct = 0;
    let confident = 0;
    let quiet = 0;
    const misses: string[] = [];
    const positives = labelled.filter((l) => l.expected);
    const negatives = labelled.filter((l) => !l.expected);
    for (const { message, expected } of labelled) {
      const { matches, threshold } = await match(message);
      expect(threshold).toBe(0.8);
      for (let i = 1; i < matches.length; i++) expect(matches[i]!.confidence).toBeLessThanOrEqual(matches[i - 1]!.confidence);
      expect(matches.every((m) => m.confidence >= 0 && m.confidence <= 1)).toBe(true);
      const top = matches[0]!;
      if (expected) {
        if (slugs.get(top.templateId) === expected) {
          correct++;
          if (top.confidence >= threshold) confident++;
        } else misses.push(`${message} → ${slugs.get(top.templateId)}`);
      } else if (top.confidence < threshold) quiet++;
      else misses.push(`${message} → ${slugs.get(top.templateId)} at ${top.confidence} (should match nothing)`);
    }
    const accuracy = correct / positives.length;
    const quietShare = quiet / negatives.length;
    console.info(
      `template matching: top-1 ${accuracy.toFixed(3)} (${correct}/${positives.length}), ` +
        `confident and right ${(confident / positives.length).toFixed(3)}, ` +
        `non-matching under the threshold ${quietShare.toFixed(3)} (${quiet}/${negatives.length})` +
        (misses.length > 0 ? `\n  ${misses.join('\n  ')}` : ''),
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.85);
    expect(quietShare).toBeGreaterThanOrEqual(0.9);
  });

  it("matches the caller's own templates, never another user's, and says which ones are available", async () => {
    const definition = {
      slug: 'expense-report',
      name: 'Expense report',
      description: 'Collects receipts and files the monthly expense report.',
      category: 'Finance',
      systemPrompt: 'File the expense report.',
      examples: ['file my expense report', 'submit my receipts for reimbursement'],
    };
    const created = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: bearer(t.userToken), payload: definition });
    const { id } = created.json().template;
    const own = await match('please submit my expense receipts');
    expect(own.matches[0]).toMatchObject({ templateId: id, name: 'Expense report', available: true });
    expect(own.matches[0]!.confidence).toBeGreaterThanOrEqual(own.threshold);

    const other = await match('please submit my expense receipts', t.adminToken);
    expect(other.matches.some((m) => m.templateId === id)).toBe(false);
    expect(other.matches[0]!.confidence).toBeLessThan(other.threshold);

    const triage = await match('triage my inbox and draft replies');
    expect(triage.matches[0]).toMatchObject({ name: 'Email triage', available: false });
  });

  it('refuses an empty or oversized message', async () => {
    for (const message of ['   ', 'x'.repeat(10_001)]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/templates/match',
        headers: bearer(t.userToken),
        payload: { message },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('VALIDATION_FAILED');
    }
  });
});
