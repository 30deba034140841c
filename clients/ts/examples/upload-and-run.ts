/*
 * Uploads a document, starts the document Q&A workflow on it, and prints the answer as it streams.
 *
 *   AGENTRY_URL=http://127.0.0.1:3000 AGENTRY_TOKEN=agt_… node --import tsx clients/ts/examples/upload-and-run.ts
 */
import { pathToFileURL } from 'node:url';
import { createAgentryClient, unwrap } from '../src/index.ts';

export async function main(options: { baseUrl: string; token: string; write: (text: string) => void }): Promise<void> {
  const agentry = createAgentryClient(options);
  const { document } = await agentry.uploadDocument({
    title: 'Refund policy',
    content: 'Refunds are paid within 14 days of a written request. Gift cards are not refundable.',
  });
  // The document is searchable once it is chunked and embedded.
  for (let status = document.status; status !== 'completed';) {
    if (status === 'failed') throw new Error(`The document could not be read.`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    status = (await unwrap(agentry.GET('/v1/knowledge/documents/{id}', { params: { path: { id: document.id } } }))).document.status;
  }

  const question = 'How long do refunds take?';
  const { session } = await unwrap(agentry.POST('/v1/sessions', { body: { templateId: 'document-qa', variables: { question } } }));
  // From the session's first event, so nothing said before the stream opened is missed.
  const events = agentry.events({ topics: [`session:${session.id}`], since: 0 });
  await unwrap(
    agentry.POST('/v1/conversations/{id}/messages', { params: { path: { id: session.conversationId! } }, body: { content: question } }),
  );

  const printed = new Map<string, number>();
  const print = (messageId: string, text: string, offset: number) => {
    const done = printed.get(messageId) ?? 0;
    if (offset + text.length <= done) return;
    options.write(text.slice(done - offset));
    printed.set(messageId, offset + text.length);
  };
  for await (const frame of events) {
    if (frame.event === 'message.delta') print(frame.data.messageId, frame.data.text, frame.data.offset);
    if (frame.event === 'message.completed' && frame.data.role === 'assistant') print(frame.data.messageId, frame.data.text, 0);
    if (frame.event === 'turn.ended') {
      options.write(`\n[turn ${frame.data.status}]\n`);
      break;
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const baseUrl = process.env.AGENTRY_URL ?? 'http://127.0.0.1:3000';
  const token = process.env.AGENTRY_TOKEN;
  if (!token) throw new Error('Set AGENTRY_TOKEN to an API token (agentry token create).');
  await main({ baseUrl, token, write: (text) => process.stdout.write(text) });
}
