import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, messageOf } from '../api.ts';

/** A schedule as the form holds it: a cron expression or an interval in minutes, in a time zone. */
export interface ScheduleValues {
  mode: 'cron' | 'interval';
  cron: string;
  everyMinutes: string;
  timezone: string;
}

/** The schedule as the API takes it. */
export function toSchedule(values: ScheduleValues): { cron: string; timezone: string } | { everySeconds: number; timezone: string } {
  return values.mode === 'cron'
    ? { cron: values.cron.trim(), timezone: values.timezone }
    : { everySeconds: Math.round(Number(values.everyMinutes) * 60), timezone: values.timezone };
}

/** An instant as a wall-clock time in `timezone` (the zone the schedule is read in). */
export function formatInZone(iso: string, timezone: string): string {
  return new Date(iso).toLocaleString(undefined, {
    timeZone: timezone,
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  });
}

function zones(current: string): string[] {
  const all = new Set(Intl.supportedValuesOf('timeZone'));
  all.add('UTC');
  all.add(current);
  return [...all].sort();
}

/**
 * The schedule fields and what they mean: the next five fire times, in the schedule's time zone,
 * as the server computes them (the same code that fires it, across daylight-saving changes), asked
 * again a moment after each change.
 */
export function ScheduleHelper({ values, onChange }: { values: ScheduleValues; onChange: (values: ScheduleValues) => void }) {
  const [preview, setPreview] = useState<{ upcoming: string[]; timezone: string } | { problem: string } | undefined>();
  const zoneList = useMemo(() => zones(values.timezone), [values.timezone]);
  const set = (key: keyof ScheduleValues) => (event: { currentTarget: { value: string } }) =>
    onChange({ ...values, [key]: event.currentTarget.value });

  useEffect(() => {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api('POST', '/v1/triggers/schedule-preview', { body: { schedule: toSchedule(values) }, signal: controller.signal }).then(
        (answer) => setPreview(answer),
        (error: unknown) => !controller.signal.aborted && setPreview({ problem: messageOf(error) }),
      );
    }, 300);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [values.mode, values.cron, values.everyMinutes, values.timezone]);

  return (
    <fieldset class="schedule-helper">
      <legend>Schedule</legend>
      <div class="row" role="radiogroup" aria-label="Repeat by">
        <label class="field-inline">
          <input type="radio" name="schedule-mode" value="cron" checked={values.mode === 'cron'} onChange={set('mode')} />
          By cron
        </label>
        <label class="field-inline">
          <input type="radio" name="schedule-mode" value="interval" checked={values.mode === 'interval'} onChange={set('mode')} />
          Every few minutes
        </label>
      </div>
      {values.mode === 'cron' ? (
        <div class="field">
          <label for="schedule-cron">Cron expression</label>
          <input id="schedule-cron" value={values.cron} maxLength={120} onInput={set('cron')} aria-describedby="schedule-cron-hint" />
          <span class="hint" id="schedule-cron-hint">
            Minute, hour, day of month, month, weekday: <code>0 8 * * 1-5</code> is 08:00 on weekdays.
          </span>
        </div>
      ) : (
        <div class="field">
          <label for="schedule-every">Every (minutes)</label>
          <input id="schedule-every" type="number" min={1} step={1} value={values.everyMinutes} onInput={set('everyMinutes')} />
        </div>
      )}
      <div class="field">
        <label for="schedule-timezone">Time zone</label>
        <select id="schedule-timezone" value={values.timezone} onChange={set('timezone')}>
          {zoneList.map((zone) => (
            <option key={zone} value={zone}>
              {zone}
            </option>
          ))}
        </select>
      </div>
      <div class="schedule-preview" role="status" aria-live="polite">
        {preview && 'problem' in preview && <p class="error-note">{preview.problem}</p>}
        {preview && 'upcoming' in preview && (
          <>
            <p class="hint">Next five runs ({preview.timezone}):</p>
            <ol aria-label="Next five runs">
              {preview.upcoming.map((at) => (
                <li key={at}>
                  <time dateTime={at}>{formatInZone(at, preview.timezone)}</time>
                </li>
              ))}
            </ol>
          </>
        )}
      </div>
    </fieldset>
  );
}
