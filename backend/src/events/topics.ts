/**
 * Topics a client may subscribe to, and who may subscribe to which. Every stored event belongs to
 * one user and a client only ever receives its own user's events, whatever topic it names; a
 * topic's authorizer additionally refuses a topic that names an object the user does not own.
 *
 * Areas register the topics they publish on. A topic with no registered authorizer is refused.
 */

/**
 * Decides which of `topics` (all of one kind) the user may follow. It is called once per kind for
 * a whole subscribe frame, so it answers with one query at most however many topics it is given:
 * a frame of a hundred `session:` topics costs one query, not a hundred.
 */
export type TopicAuthorizer = (userId: string, topics: readonly string[]) => Promise<ReadonlySet<string>>;

const topicPattern = /^[a-z][a-z_.-]{0,40}(:[A-Za-z0-9_.-]{1,100})?$/;

export class TopicRegistry {
  private readonly authorizers = new Map<string, TopicAuthorizer>();

  /** `kind` is the part before the colon: `integrations`, or `session` for `session:<id>`. */
  register(kind: string, authorizer: TopicAuthorizer): void {
    this.authorizers.set(kind, authorizer);
  }

  isWellFormed(topic: string): boolean {
    return topicPattern.test(topic);
  }

  /**
   * Splits `topics` into those the user may subscribe to and those refused (in the order given),
   * asking each kind's authorizer once, one kind after another.
   */
  async authorize(userId: string, topics: readonly string[]): Promise<{ allowed: string[]; refused: string[] }> {
    const byKind = new Map<string, string[]>();
    for (const topic of topics) {
      const kind = topic.split(':', 1)[0]!;
      if (this.isWellFormed(topic) && this.authorizers.has(kind)) byKind.set(kind, [...(byKind.get(kind) ?? []), topic]);
    }
    const granted = new Set<string>();
    for (const [kind, named] of byKind) for (const topic of await this.authorizers.get(kind)!(userId, named)) granted.add(topic);
    return { allowed: topics.filter((t) => granted.has(t)), refused: topics.filter((t) => !granted.has(t)) };
  }
}

/** The topics every user has: their own integrations, knowledge base, notifications and tool calls awaiting their approval. */
export function registerUserTopics(registry: TopicRegistry): void {
  const own: TopicAuthorizer = async (_userId, topics) => new Set(topics.filter((topic) => !topic.includes(':')));
  registry.register('integrations', own);
  registry.register('knowledge', own);
  registry.register('notifications', own);
  registry.register('approvals', own);
}
