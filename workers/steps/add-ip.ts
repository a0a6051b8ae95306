// DESIGN §4 step 6: `$ip` comes from the capture server's view of the client
// when the event does not carry one, and is removed altogether when the
// environment has `anonymize_ips`. The kept properties text follows
// (properties-text.ts), so the event is not serialized again either way.
import type { Step } from '../context'
import { addLeadingMember, withoutMembers } from '../properties-text'
import { ok } from '../result'

const IP = ['$ip']

export const addIp: Step = (event) => {
  const props = event.properties
  if (event.env?.anonymizeIps) {
    if (props.$ip !== undefined) {
      delete props.$ip
      if (event.propertiesText !== undefined) {
        event.propertiesText = withoutMembers(event.propertiesHead + event.propertiesText, IP)
        event.propertiesHead = ''
      }
    }
    return ok()
  }
  if (event.ip !== undefined && props.$ip === undefined) {
    props.$ip = event.ip
    // the stored text gains the same member, without serializing the rest again
    addLeadingMember(event, '$ip', JSON.stringify(event.ip))
  }
  return ok()
}
