// The steps of DESIGN §4, in order. Parsing (step 1) happens before, in
// parse.ts; encoding after, in encode.ts.
import type { Step } from './context'
import { addIp } from './steps/add-ip'
import { dropOldEvents } from './steps/drop-old-events'
import { filterEventName } from './steps/filter-event-name'
import { normalizeEventName } from './steps/normalize-event-name'
import { normalizeTimestamp } from './steps/normalize-timestamp'
import { redactProperties } from './steps/redact-properties'
import { resolveEnvironment } from './steps/resolve-environment'
import { validateDistinctId } from './steps/validate-distinct-id'

export const PIPELINE: readonly Step[] = [
  // first: settings and filters belong to the environment and its project
  resolveEnvironment,
  validateDistinctId,
  normalizeEventName,
  // after the name is normalized: the project's list holds normalized names
  filterEventName,
  normalizeTimestamp,
  // after the timestamp is normalized: age is measured on the corrected time
  dropOldEvents,
  addIp,
  // after addIp: a project may redact `$ip` itself
  redactProperties,
]
