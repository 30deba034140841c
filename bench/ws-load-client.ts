/**
 * The load client for events.bench.ts, run as its own process so it does not share the server's
 * event loop. Opens `count` WebSocket connections spread over the given URLs, follows a topic,
 * and records when each event frame arrives. Talks to the bench over IPC:
 *   ← {type:'ready'} once every socket is subscribed
 *   → {type:'report'}  ← {type:'receipts', receipts:[[id, receivedAtMs], …], closed}, then the bench kills it
 */
import WebSocket from 'ws';

const urls = (process.env.LOAD_URLS ?? '').split(',');
const token = process.env.LOAD_TOKEN ?? '';
const count = Number(process.env.LOAD_COUNT ?? '1');
const now = () => performance.timeOrigin + performance.now();

const receipts: [number, number][] = [];
let closed = 0;
const sockets: WebSocket[] = [];

function connect(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    sockets.push(ws);
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"event"')) {
        const id = Number(/"id":(\d+)/.exec(text)?.[1]);
        receipts.push([id, now()]);
      } else if (text.includes('"type":"ready"')) {
        ws.send(JSON.stringify({ type: 'subscribe', topics: ['integrations'] }));
      } else if (text.includes('"type":"subscribed"')) {
        resolve();
      }
    });
    ws.on('close', () => closed++);
    ws.on('error', reject);
  });
}

for (let i = 0; i < count; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => connect(urls[(i + j) % urls.length]!)));
}
process.send?.({ type: 'ready' });
process.on('message', (message: { type: string }) => {
  if (message.type !== 'report') return;
  // The bench ends this process once the (large) message has arrived: exiting here could cut it short.
  for (const ws of sockets) ws.terminate();
  process.send?.({ type: 'receipts', receipts, closed });
});
