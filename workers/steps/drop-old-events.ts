// Environment setting `drop_events_older_than_seconds`: events whose
// (normalized) timestamp is older than that, relative to processing time,
// are dropped. Needs the normalized timestamp.
import type { Step } from '../context'
import { drop, ok } from '../result'

export const dropOldEvents: Step = (event, ctx) => {
  const limit = event.env?.dropOlderThanMs
  return limit && ctx.nowMs - event.timestampMs > limit ? drop('event_too_old') : ok()
}
