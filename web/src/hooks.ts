import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { live, type EventFrame, type LiveState } from './live.ts';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Replaces the data in place (after a change the page made itself). */
  set: (update: (data: T | undefined) => T | undefined) => void;
}

/**
 * Data loaded from the API for as long as the component shows it: loaded again when `deps`
 * change, and a load the component no longer needs is aborted (its answer is ignored). A load that
 * failed is tried again when the live connection comes back: one refused by a server that was
 * restarting recovers without reloading the page.
 */
export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data, error: undefined, loading: false }),
      (error: unknown) => !controller.signal.aborted && setState((previous) => ({ data: previous.data, error, loading: false })),
    );
    return () => controller.abort();
    // The caller names what the load depends on.
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const failed = useRef(false);
  failed.current = state.error !== undefined;
  useEffect(() => live.onState((now) => now === 'live' && failed.current && reload()), []);
  const set = useCallback(
    (update: (data: T | undefined) => T | undefined) => setState((previous) => ({ ...previous, data: update(previous.data) })),
    [],
  );
  return { ...state, reload, set };
}

/** Follows a topic while the component is shown; the latest `listener` always gets the events. */
export function useTopic(topic: string | undefined, listener: (frame: EventFrame) => void, since?: number): void {
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => {
    if (!topic) return;
    return live.subscribe(topic, (frame) => latest.current(frame), since);
  }, [topic, since]);
}

export function useLiveState(): LiveState {
  const [state, setState] = useState(live.state);
  useEffect(() => {
    const stop = live.onState(setState);
    // The state may have changed between the first render and now.
    setState(live.state);
    return stop;
  }, []);
  return state;
}

/** The document title, for screen readers and tabs. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Agentry`;
  }, [title]);
}

/**
 * A request the user asked for (a form sent, a button pressed): `busy` while it runs, so its
 * control can be disabled, and its failure kept to show beside it. `run` resolves true when the
 * action succeeded.
 */
export function useAction(): { busy: boolean; error: unknown; run: (action: () => Promise<unknown>) => Promise<boolean> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      return true;
    } catch (failure) {
      setError(failure);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}
