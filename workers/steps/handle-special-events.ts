// Issue 15 rule 2: events PostHog never stores as events.
// - `$$client_ingestion_warning`: an SDK telling the user something went
//   wrong on its side → ingestion warning `client_ingestion_warning` with the
//   client's `$$client_ingestion_warning_message`; the event is dropped
//   (counted as client_ingestion_warning). Follows PostHog's
//   nodejs/src/worker/ingestion/event-pipeline/runner.ts.
// - `$performance_event`: no longer ingested by PostHog (its own topic,
//   then removed) → dropped, counted as performance_event.
// Decided on the name alone: one comparison of its first characters for
// every other event.
import { warn, type Step } from '../context'
import { drop, ok } from '../result'

export const handleSpecialEvents: Step = (event, ctx) => {
  const name = event.eventName
  // every special name starts with `$$` or `$p`: the common event stops here
  if (name.charCodeAt(0) !== 36) return ok()
  if (name === '$$client_ingestion_warning') {
    const message = event.properties.$$client_ingestion_warning_message
    warn(ctx, event, 'client_ingestion_warning', {
      event: name,
      distinctId: event.distinctId,
      message: typeof message === 'string' ? message.slice(0, 2000) : message ?? null,
    })
    return drop('client_ingestion_warning')
  }
  if (name === '$performance_event') return drop('performance_event')
  return ok()
}
