// DESIGN §4 step 4: a non-string name is JSON-stringified; every name is cut
// to 200 characters. An event without a name cannot be analysed: dropped.
import type { Step } from '../context'
import { drop, ok } from '../result'

export const MAX_EVENT_NAME_LENGTH = 200

export const normalizeEventName: Step = (event) => {
  const raw = event.rawEvent
  if (raw === undefined || raw === null || raw === '') return drop('invalid_event_name')
  const name = typeof raw === 'string' ? raw : JSON.stringify(raw)
  event.eventName = name.length > MAX_EVENT_NAME_LENGTH ? name.slice(0, MAX_EVENT_NAME_LENGTH) : name
  return ok()
}
