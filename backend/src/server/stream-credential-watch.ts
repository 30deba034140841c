import type { Principal, TokenService } from '../accounts/index.ts';

/** Why a held stream must end: its credential no longer holds, or it reached its maximum lifetime. */
export type StreamEnd = { kind: 'credential' | 'lifetime'; why: string };

export interface StreamCredentialWatch {
  /** Checks the token again (with each heartbeat): an eviction this instance missed ends the stream. */
  recheck(): void;
  /** Stops every timer and listener; call it when the stream closes. */
  stop(): void;
}

/**
 * The bounds in time of an event stream the server holds (server-sent events or a WebSocket), in
 * one place for both: it ends when its token expires, when the token is revoked or its user
 * disabled (an eviction), when a re-check on a heartbeat fails, and at the latest after
 * `maxLifetimeMs` (EVENT_STREAM_MAX_LIFETIME_MS), so that a token that never expires cannot hold a
 * stream for ever; a client then reconnects and resumes from its last event id. `end` is called at
 * most once, and not after `stop`.
 */
export function watchStreamCredential(options: {
  tokens: TokenService;
  principal: Principal;
  token: string | undefined;
  maxLifetimeMs: number;
  end: (reason: StreamEnd) => void;
}): StreamCredentialWatch {
  const { tokens, principal, token } = options;
  let ended = false;
  const end = (reason: StreamEnd) => {
    if (ended) return;
    stop();
    options.end(reason);
  };
  const lifetime = setTimeout(
    () => end({ kind: 'lifetime', why: 'the stream reached its maximum lifetime: reconnect and resume from the last event id' }),
    options.maxLifetimeMs,
  );
  const untilExpiry = principal.expiresAt === null ? undefined : principal.expiresAt - Date.now();
  // Past setTimeout's range (about 24 days) the lifetime ends the stream first.
  const expiry =
    untilExpiry !== undefined && untilExpiry < 2 ** 31
      ? setTimeout(() => end({ kind: 'credential', why: 'the token expired' }), Math.max(0, untilExpiry))
      : undefined;
  const stopEvictions = tokens.onEvict((eviction) => {
    if (eviction.kind === 'user' && eviction.id === principal.user.id) end({ kind: 'credential', why: 'user disabled' });
    if (eviction.kind === 'token' && eviction.id === principal.tokenId) end({ kind: 'credential', why: 'token revoked' });
  });
  const stop = () => {
    ended = true;
    clearTimeout(lifetime);
    clearTimeout(expiry);
    stopEvictions();
  };
  return {
    recheck() {
      if (ended || !token) return;
      void tokens.authenticate(token).then(
        (still) => still || end({ kind: 'credential', why: 'the token expired or was revoked' }),
        () => undefined, // the database is briefly unreachable: check again next time
      );
    },
    stop,
  };
}
