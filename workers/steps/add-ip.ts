// DESIGN §4 step 6: `$ip` comes from the capture server's view of the client
// when the event does not carry one, and is removed altogether when the
// environment has `anonymize_ips`.
import type { Step } from '../context'
import { ok } from '../result'

export const addIp: Step = (event) => {
  if (event.env?.anonymizeIps) {
    delete event.properties.$ip
    return ok()
  }
  if (event.ip !== undefined && event.properties.$ip === undefined) event.properties.$ip = event.ip
  return ok()
}
