// Every event needs a distinct_id: a non-empty string (numbers are stringified,
// as SDKs send them), at most 400 characters (PostHog's limit).
import type { Step } from '../context'
import { drop, ok } from '../result'

export const MAX_DISTINCT_ID_LENGTH = 400

export const validateDistinctId: Step = (event) => {
  const id = event.distinctId
  if (typeof id === 'number' && Number.isFinite(id)) {
    event.distinctId = String(id)
    return ok()
  }
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_DISTINCT_ID_LENGTH) return drop('invalid_distinct_id')
  return ok()
}
