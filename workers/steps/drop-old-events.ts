// Environment setting `drop_events_older_than_seconds`: events whose
// (normalized) timestamp is older than that, measured from the capture time
// (outer `now`, not processing time: a backlog replayed later drops the same
// events), are dropped with warning `event_dropped_too_old`. Needs the
// normalized timestamp. Follows PostHog's
// nodejs/src/ingestion/event-processing/drop-old-events-step.ts (age from `now`,
// details `eventUuid, event, distinctId, eventTimestamp, ageInSeconds,
// dropThresholdSeconds`).
import { warn, type Step } from '../context'
import { drop, ok } from '../result'

export const dropOldEvents: Step = (event, ctx) => {
  const limit = event.env?.dropOlderThanMs
  if (!limit) return ok()
  const age = event.capturedMs - event.timestampMs
  if (age <= limit) return ok()
  warn(ctx, event, 'event_dropped_too_old', {
    event: event.eventName,
    distinctId: event.distinctId,
    eventTimestamp: new Date(event.timestampMs).toISOString(),
    ageInSeconds: Math.floor(age / 1000),
    dropThresholdSeconds: limit / 1000,
  })
  return drop('event_too_old')
}
