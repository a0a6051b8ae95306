// The steps of DESIGN §4, in order. Parsing (step 1) happens before, in
// parse.ts; encoding after, in encode.ts.
import type { Step } from './context'
import { addIp } from './steps/add-ip'
import { dropOldEvents } from './steps/drop-old-events'
import { extractDefinitions } from './steps/extract-definitions'
import { extractPerson } from './steps/extract-person'
import { extractElements } from './steps/extract-elements'
import { extractHeatmaps } from './steps/extract-heatmaps'
import { filterEventName } from './steps/filter-event-name'
import { handleSpecialEvents } from './steps/handle-special-events'
import { normalizeEventName } from './steps/normalize-event-name'
import { normalizeSession } from './steps/normalize-session'
import { normalizeTimestamp } from './steps/normalize-timestamp'
import { redactProperties } from './steps/redact-properties'
import { resolveEnvironment } from './steps/resolve-environment'
import { resolveGroups } from './steps/resolve-groups'
import { stripBloatProperties } from './steps/strip-bloat-properties'
import { validateDistinctId } from './steps/validate-distinct-id'

export const PIPELINE: readonly Step[] = [
  // first: settings, filters and taxonomy belong to the environment and its project
  resolveEnvironment,
  validateDistinctId,
  normalizeEventName,
  // after the name is normalized: the project's list holds normalized names
  filterEventName,
  normalizeTimestamp,
  // after the timestamp is normalized: age is measured on the corrected time
  dropOldEvents,
  // after the filters and the age limit: a filtered or too old client warning reports nothing
  handleSpecialEvents,
  // before anything reads properties for the stored row or the taxonomy: elements are a column, not properties
  extractElements,
  stripBloatProperties,
  normalizeSession,
  addIp,
  // after addIp: a project may redact `$ip` itself
  redactProperties,
  // after the properties are final ($session_id lowercased), before groups: a heatmap-only event claims no group type
  extractHeatmaps,
  // after every step that may drop the event: a group update must not outlive a dropped event
  resolveGroups,
  // last: definitions describe what is stored, and need the group type index
  extractDefinitions,
]

/**
 * With SLUICE_PERSONS=on: the person step after every step that may drop
 * the event (one intent per stored row) and before definitions (a personless
 * event's stripped `$set` describes nothing).
 */
export const PERSONS_PIPELINE: readonly Step[] = [...PIPELINE.slice(0, -1), extractPerson, PIPELINE[PIPELINE.length - 1]]
