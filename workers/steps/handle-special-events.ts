// Issue 15 rule 2: events PostHog never stores as events.
// - `$$client_ingestion_warning`: an SDK telling the user something went
//   wrong on its side → ingestion warning `client_ingestion_warning` with
//   details `eventUuid, event, distinctId, message` (the client's
//   `$$client_ingestion_warning_message`), never rate-limited (PostHog's
//   `alwaysSend: true`: the rate-limit key is the event's uuid); the event is
//   dropped (counted as client_ingestion_warning). Follows PostHog's
//   nodejs/src/ingestion/event-processing/handle-client-ingestion-warning-step.ts.
// - `$performance_event`: not an analytics event (older posthog-js network
//   timings, once routed by PostHog to a table of their own) → dropped,
//   counted as performance_event, as the issue asks.
// Decided on the name alone: one character comparison for most events.
import { warn, type Step } from '../context'
import { drop, ok } from '../result'

export const handleSpecialEvents: Step = (event, ctx) => {
  const name = event.eventName
  // both special names start with `$`: any other first character stops here
  if (name.charCodeAt(0) !== 36) return ok()
  if (name === '$$client_ingestion_warning') {
    warn(ctx, event, 'client_ingestion_warning', {
      event: name,
      distinctId: event.distinctId,
      message: event.properties.$$client_ingestion_warning_message ?? null,
    }, event.uuid)
    return drop('client_ingestion_warning')
  }
  if (name === '$performance_event') return drop('performance_event')
  return ok()
}
