// Issue 15 rule 2 (bloat): persistence-cache keys that older posthog-js
// versions leak into every event (tour definitions alone up to ~250 KB) are
// removed before storage, as PostHog's
// nodejs/src/ingestion/event-processing/strip-bloat-properties.ts does (same
// key list). The kept properties text follows (properties-text.ts), so the
// event is not serialized again. Seven `in` checks for an event without them.
import type { Step } from '../context'
import { withoutMembers } from '../properties-text'
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
  const props = event.properties
  let removed = false
  for (let i = 0; i < BLOAT_PROPERTIES.length; i++) {
    const key = BLOAT_PROPERTIES[i]
    if (key in props) {
      delete props[key]
      removed = true
    }
  }
  if (removed && event.propertiesText !== undefined) {
    event.propertiesText = withoutMembers(event.propertiesHead + event.propertiesText, BLOAT_PROPERTIES)
    event.propertiesHead = ''
  }
  return ok()
}
