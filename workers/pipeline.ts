// The steps of DESIGN §4, in order. Parsing (step 1) happens before, in
// parse.ts; encoding after, in encode.ts.
import type { Step } from './context'
import { addIp } from './steps/add-ip'
import { normalizeEventName } from './steps/normalize-event-name'
import { normalizeTimestamp } from './steps/normalize-timestamp'
import { resolveEnvironment } from './steps/resolve-environment'
import { validateDistinctId } from './steps/validate-distinct-id'

export const PIPELINE: readonly Step[] = [
  // first: an event without a known environment needs no more work
  resolveEnvironment,
  validateDistinctId,
  normalizeEventName,
  normalizeTimestamp,
  // after the token is resolved: environment settings (anonymize_ips) will decide here
  addIp,
]
