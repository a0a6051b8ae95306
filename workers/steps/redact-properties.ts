// DESIGN §4 step 7 (shared per project): property names the project lists in
// `redact_property_names` are removed from every event of the project.
import type { Step } from '../context'
import { ok } from '../result'

export const redactProperties: Step = (event) => {
  const names = event.env?.project.redactPropertyNames
  if (names) for (const n of names) delete event.properties[n]
  return ok()
}
