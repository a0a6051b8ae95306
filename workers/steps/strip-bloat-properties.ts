// Issue 15 rule 2 (bloat): persistence-cache keys that older posthog-js
// versions leak into every event (tour definitions alone up to ~250 KB) are
// removed before storage, as PostHog's
// nodejs/src/ingestion/event-processing/strip-bloat-properties.ts does (same
// key list). The kept properties text follows (properties-text.ts), so the
// event is not serialized again. Seven own-key checks for an event without them.
import type { Step } from '../context'
import { removeProperties } from '../properties-text'
import { ok } from '../result'

export const BLOAT_PROPERTIES: readonly string[] = [
  'ph_product_tours',
  '$session_recording_remote_config',
  '$product_tours_activated',
  '$product_tours_enabled_server_side',
  '$surveys_activated',
  '$feature_flag_payloads',
  '$override_feature_flag_payloads',
]

export const stripBloatProperties: Step = (event) => {
  removeProperties(event, BLOAT_PROPERTIES)
  return ok()
}
