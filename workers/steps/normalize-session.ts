// Issue 15 rule 3: session and send time, as PostHog stores them.
// - A UUID-shaped `$session_id` is lowercased (SDKs on some platforms send
//   upper case UUIDs; replay and session tables key on the lower case text).
// - `$sent_at` is added to properties from the capture's `sent_at`, as
//   PostHog's nodejs/src/utils/event.ts (`normalizeEvent`) does; the event's
//   own `$sent_at`, if any, is replaced there too.
// The kept properties text follows without serializing the event again
// (properties-text.ts); an event without `sent_at` and with a lower case
// (or no) session id costs two property reads.
import type { Step } from '../context'
import { addLeadingMember, withoutMembers } from '../properties-text'
import { ok } from '../result'

const UUID_SHAPE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/
const HAS_UPPER = /[A-F]/
const SESSION_ID = ['$session_id']
const SENT_AT = ['$sent_at']

export const normalizeSession: Step = (event) => {
  const props = event.properties
  const session = props.$session_id
  if (typeof session === 'string' && session.length === 36 && HAS_UPPER.test(session) && UUID_SHAPE.test(session)) {
    const lower = session.toLowerCase()
    props.$session_id = lower
    if (event.propertiesText !== undefined) {
      const rest = withoutMembers(event.propertiesHead + event.propertiesText, SESSION_ID)
      event.propertiesHead = ''
      event.propertiesText = rest
      addLeadingMember(event, '$session_id', JSON.stringify(lower))
    }
  }
  const sentAt = event.sentAt
  if (typeof sentAt === 'string' && sentAt.length > 0) {
    if (props.$sent_at !== undefined && event.propertiesText !== undefined) {
      event.propertiesText = withoutMembers(event.propertiesHead + event.propertiesText, SENT_AT)
      event.propertiesHead = ''
    }
    props.$sent_at = sentAt
    addLeadingMember(event, '$sent_at', JSON.stringify(sentAt))
  }
  return ok()
}
