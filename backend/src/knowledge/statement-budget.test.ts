import { describe, expect, it } from 'vitest';
import { StatementBudget } from './statement-budget.ts';

describe('StatementBudget', () => {
  it('starts at one row, then sizes statements by what a row cost in the last one, within its cap', () => {
    const budget = new StatementBudget({ targetMs: 25, maxRows: 128 });
    expect(budget.rows()).toBe(1);
    // Cheap rows: the budget grows, but at most twice the last statement's rows at a time.
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const rows = budget.rows();
      sizes.push(rows);
      budget.note(2 * rows, rows);
    }
    expect(sizes).toEqual([1, 2, 4, 8, 12]);
    // An insert into a large HNSW index: tens of milliseconds a vector. The budget drops at once.
    budget.note(480, 12);
    expect(budget.rows()).toBe(1);
    for (let rows = 1; rows < 128; rows = budget.rows()) budget.note(0.05 * rows, rows);
    expect(budget.rows()).toBe(128);
  });

  it('ignores a statement that stored nothing (every document in it had lost its lease)', () => {
    const budget = new StatementBudget({ targetMs: 25, maxRows: 128 });
    budget.note(50, 2);
    expect(budget.rows()).toBe(1);
    budget.note(0.01, 0);
    expect(budget.rows()).toBe(1);
  });
});
