// Every event needs a distinct_id: a non-empty string (numbers are stringified,
// as SDKs send them), at most 400 characters (PostHog's limit), else dropped
// with PostHog's warning `skipping_event_invalid_distinct_id` and its details
// (`distinctId` cut to 100, `distinctIdLength`, `maxLength`), as in
// nodejs/src/ingestion/event-preprocessing/validate-event-metadata.ts. A NUL
// in it becomes U+FFFD (PostHog's normalizeEvent, nodejs/src/utils/event.ts).
import { warn, type Step } from '../context'
import { drop, ok } from '../result'

export const MAX_DISTINCT_ID_LENGTH = 400

export const validateDistinctId: Step = (event, ctx) => {
  const id = event.distinctId
  if (typeof id === 'number' && Number.isFinite(id)) {
    event.distinctId = String(id)
    return ok()
  }
  if (typeof id !== 'string' || id.length === 0) return drop('invalid_distinct_id')
  if (id.length > MAX_DISTINCT_ID_LENGTH) {
    warn(ctx, event, 'skipping_event_invalid_distinct_id', { distinctId: id.slice(0, 100), distinctIdLength: id.length, maxLength: MAX_DISTINCT_ID_LENGTH })
    return drop('invalid_distinct_id')
  }
  if (id.includes('\u0000')) event.distinctId = id.replace(/\u0000/g, '\ufffd')
  return ok()
}
