import type { MessageRow } from '../sessions/index.ts';

/**
 * A turn's execution's view of its conversation, what each step's prompt is fitted from. Only
 * the execution writes to the conversation while its turn runs (a second message is refused, a
 * restore waits) and messages never change once written: so it is read once, the rows the
 * execution's own writes return are added as they are written, and it is read again (only what
 * came after the last row it has) when something else was written: a summary of older turns.
 */
export class ConversationHistory {
  private readonly rows: MessageRow[] = [];
  private current = false;
  /** Summaries the turn's context had written when the rows were last brought up to date. */
  private summariesSeen = 0;

  constructor(
    private readonly transcript: { history(conversationId: string, afterSeq?: string): Promise<MessageRow[]> },
    private readonly conversationId: string,
    private readonly context: { readonly summaries: number },
    /** The whole conversation, when the caller knows it: then it is not read until something else writes. */
    known?: readonly MessageRow[],
  ) {
    if (known) {
      this.rows.push(...known);
      this.current = true;
    }
  }

  /** Every message of the conversation, in order. */
  async now(): Promise<readonly MessageRow[]> {
    if (!this.current) {
      for (const row of await this.transcript.history(this.conversationId, this.rows.at(-1)?.seq)) this.rows.push(row);
      this.current = true;
    }
    return this.rows;
  }

  /** Messages the execution just wrote, as stored (undefined: written without their rows coming back). */
  written(rows: readonly MessageRow[] | undefined): void {
    // A summary written while the prompt was fitted comes before them: the next step reads again.
    if (this.context.summaries !== this.summariesSeen) {
      this.summariesSeen = this.context.summaries;
      this.current = false;
    }
    if (!rows) this.current = false;
    else if (this.current) for (const row of rows) this.rows.push(row);
  }
}
