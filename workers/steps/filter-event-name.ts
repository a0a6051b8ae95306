// DESIGN §4 step 7 (shared per project): events whose name the project lists
// in `drop_event_names` are dropped in every environment of the project.
import type { Step } from '../context'
import { drop, ok } from '../result'

export const filterEventName: Step = (event) => {
  const names = event.env?.project.dropEventNames
  return names && names.has(event.eventName) ? drop('event_filtered') : ok()
}
