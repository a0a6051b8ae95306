// Every event needs a distinct_id: a non-empty string (numbers are stringified,
// as SDKs send them), at most 400 characters (PostHog's limit).
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
    warn(ctx, event, 'distinct_id_too_long', { length: id.length, limit: MAX_DISTINCT_ID_LENGTH, distinct_id_prefix: id.slice(0, 40) })
    return drop('invalid_distinct_id')
  }
  return ok()
}
