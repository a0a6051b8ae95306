// DESIGN §4 step 7 (shared per project): property names the project lists in
// `redact_property_names` are removed from every event of the project, from
// the object and from the kept properties text (properties-text.ts).
import type { Step } from '../context'
import { removeProperties } from '../properties-text'
import { ok } from '../result'

export const redactProperties: Step = (event) => {
  const names = event.env?.project.redactPropertyNames
  if (!names) return ok()
  removeProperties(event, names)
  return ok()
}
