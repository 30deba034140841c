/**
 * Topics a client may subscribe to, and who may subscribe to which. Every stored event belongs to
 * one user and a client only ever receives its own user's events, whatever topic it names; a
 * topic's authorizer additionally refuses a topic that names an object the user does not own.
 *
 * Areas register the topics they publish on. A topic with no registered authorizer is refused.
 */
export type TopicAuthorizer = (userId: string, topic: string) => Promise<boolean>;

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

  /** Splits `topics` into those the user may subscribe to and those refused. */
  async authorize(userId: string, topics: string[]): Promise<{ allowed: string[]; refused: string[] }> {
    const allowed: string[] = [];
    const refused: string[] = [];
    for (const topic of topics) {
      const authorizer = this.isWellFormed(topic) ? this.authorizers.get(topic.split(':', 1)[0]!) : undefined;
      if (authorizer && (await authorizer(userId, topic))) allowed.push(topic);
      else refused.push(topic);
    }
    return { allowed, refused };
  }
}

/** The topics every user has: their own integrations and knowledge base. */
export function registerUserTopics(registry: TopicRegistry): void {
  const own: TopicAuthorizer = async (_userId, topic) => !topic.includes(':');
  registry.register('integrations', own);
  registry.register('knowledge', own);
}
