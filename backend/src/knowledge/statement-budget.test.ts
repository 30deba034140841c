import { describe, expect, it } from 'vitest';
import { StatementBudget } from './statement-budget.ts';

describe('StatementBudget', () => {
  it('starts at one row, then sizes statements by what a row cost in the last one, within its cap', () => {
    const budget = new StatementBudget({ targetMs: 25, maxRows: 128 });
    expect(budget.rows()).toBe(1);
    budget.note(2, 1);
    expect(budget.rows()).toBe(12);
    // An insert into a large HNSW index: tens of milliseconds a vector.
    budget.note(480, 12);
    expect(budget.rows()).toBe(1);
    budget.note(0.05, 1);
    expect(budget.rows()).toBe(128);
  });
});
