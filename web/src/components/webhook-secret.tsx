import { useState } from 'preact/hooks';
import { useAction } from '../hooks.ts';
import { ErrorNote } from './ui.tsx';

/** HMAC-SHA256 of `text` under `secret`, as hex, with the browser's own crypto. */
async function sign(secret: string, text: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(text)));
  return [...mac].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * A webhook's address and its secret, shown this once (after saving or rotating), with a test
 * delivery: signed here with the secret exactly as a sender must sign (`X-Agentry-Signature:
 * t=<unix seconds>,v1=<HMAC of "t.body">`) and sent to the trigger's address, so it proves the
 * address, the secret and the signature format together. It starts a run, as a real delivery does.
 */
export function WebhookSecret({ path, secret, onDismiss }: { path: string; secret: string; onDismiss: () => void }) {
  const url = new URL(path, window.location.href).toString();
  const { busy, error, run } = useAction();
  const [result, setResult] = useState<string>();

  const testDelivery = () =>
    run(async () => {
      setResult(undefined);
      if (!crypto.subtle) throw new Error('This browser signs only over HTTPS or on localhost.');
      const body = JSON.stringify({ test: true, sentAt: new Date().toISOString() });
      const t = Math.floor(Date.now() / 1000);
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-agentry-signature': `t=${t},v1=${await sign(secret, `${t}.${body}`)}`,
          'x-agentry-delivery': `console-test-${crypto.randomUUID()}`,
        },
        body,
      });
      if (response.status === 202) setResult('Delivered: the signature held and a run was fired. See the run history below.');
      else if (response.status === 200) setResult('Delivered again: this delivery id was already received, so nothing new was fired.');
      else throw new Error(`The delivery was refused (${response.status}).`);
    });

  return (
    <div class="card webhook-secret" role="region" aria-label="Webhook secret">
      <p>
        <strong>Copy the secret now: it is not shown again.</strong> Sign each delivery with it (GitHub's <code>X-Hub-Signature-256</code>,
        or <code>X-Agentry-Signature</code> with a timestamp). Rotating it later keeps the old one working for a grace period.
      </p>
      <div class="field">
        <label for="webhook-url">Delivery URL</label>
        <input id="webhook-url" readOnly value={url} onFocus={(e) => e.currentTarget.select()} />
      </div>
      <div class="field">
        <label for="webhook-secret">Secret</label>
        <input id="webhook-secret" readOnly value={secret} onFocus={(e) => e.currentTarget.select()} />
      </div>
      <div class="row">
        <button type="button" disabled={busy} onClick={() => void testDelivery()}>
          {busy ? 'Sending…' : 'Send a test delivery'}
        </button>
        <button type="button" class="link-button" onClick={onDismiss}>
          I have copied it
        </button>
      </div>
      <p role="status">{result}</p>
      {error instanceof Error && !('code' in error) ? (
        <p class="error-note" role="alert">
          {error.message}
        </p>
      ) : (
        <ErrorNote error={error} />
      )}
    </div>
  );
}
