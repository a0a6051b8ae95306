// DESIGN §4 step 7 (shared per project): property names the project lists in
// `redact_property_names` are removed from every event of the project.
import type { Step } from '../context'
import { ok } from '../result'

export const redactProperties: Step = (event) => {
  const names = event.env?.project.redactPropertyNames
  if (!names) return ok()
  const props = event.properties
  for (const n of names) {
    if (Object.hasOwn(props, n)) {
      delete props[n]
      // the event's own text still holds it
      event.propertiesText = undefined
    }
  }
  return ok()
}
