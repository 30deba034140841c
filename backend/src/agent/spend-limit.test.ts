import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.ts';
import { SpendLimit } from './spend-limit.ts';

describe('SpendLimit', () => {
  it('lets a user under the limit send, and refuses one who reached it with what was spent', async () => {
    const spent = new Map([
      ['under', 4.99],
      ['at', 5],
    ]);
    const limit = new SpendLimit({ limitUsd: 5, spentThisMonth: async (userId) => spent.get(userId) ?? 0 });
    await expect(limit.check('under')).resolves.toBeUndefined();
    const refused = await limit.check('at').catch((error: unknown) => error);
    expect(isAppError(refused) && refused.code).toBe('QUOTA_EXCEEDED');
    expect(isAppError(refused) && refused.details).toEqual({ spentUsd: 5, limitUsd: 5 });
  });

  it('asks nothing when no limit is set', async () => {
    let asked = false;
    const limit = new SpendLimit({
      limitUsd: undefined,
      spentThisMonth: async () => {
        asked = true;
        return 1e9;
      },
    });
    await limit.check('anyone');
    expect(asked).toBe(false);
  });
});
