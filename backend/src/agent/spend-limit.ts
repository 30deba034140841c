import { AppError } from '../errors.ts';

export interface SpendLimitDeps {
  /** Spend per user per calendar month (UTC) past which new messages are refused; none when undefined. */
  limitUsd: number | undefined;
  /** What the user's model calls cost this calendar month (UTC), failed and cancelled ones included. */
  spentThisMonth: (userId: string) => Promise<number>;
}

/**
 * The monthly spend limit on language models, checked before a turn starts (a turn that is under
 * way finishes: stopping it halfway would waste what it already cost).
 */
export class SpendLimit {
  constructor(private readonly deps: SpendLimitDeps) {}

  /** 429 QUOTA_EXCEEDED once the user's model spend this calendar month (UTC) reached the limit. */
  async check(userId: string): Promise<void> {
    const limit = this.deps.limitUsd;
    if (limit === undefined) return;
    const spent = await this.deps.spentThisMonth(userId);
    if (spent >= limit) {
      throw new AppError(
        'QUOTA_EXCEEDED',
        `You have spent $${spent.toFixed(4)} on language models this month, which reaches your limit of $${limit}. It resets on the first of the month (UTC).`,
        { details: { spentUsd: spent, limitUsd: limit } },
      );
    }
  }
}
