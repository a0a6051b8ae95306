// Ends SDK-token grace periods (issue 17). The fold never reads a clock, so a
// rotation with grace_seconds records its deadline (`revoke_at`, the writer's
// clock) and the old token stays live until an `expire_token` for that key
// and deadline is folded: every instance then revokes it at that one log
// position, and an event is accepted or dropped the same everywhere.
//
// Every complete instance keeps a timer for the earliest deadline and, when it
// passes, appends the expiry. All of them may; the request_id is derived from
// key and deadline, so the fold applies the first and answers the others as
// duplicates (and an expiry that no longer matches changes nothing). While no
// instance runs, the old token lives on until one starts: that is the price of
// deciding on the log, and the safe side for SDKs in the wild.
import type { Logger } from 'pino'
import type { ControlState } from './fold'
import type { ControlLog, FoldedChange } from './log'

/** setTimeout's limit is 2^31 ms (24.8 days); longer waits are taken in steps. */
const MAX_WAIT_MS = 3_600_000
const RETRY_MS = 1_000

/** The keys whose grace period ended by `nowMs`, and the next deadline after that (ms, or undefined). */
export function dueExpiries(state: ControlState, nowMs: number): { due: { environment_id: number; key_id: number; revoke_at: string }[]; next: number | undefined } {
  const due: { environment_id: number; key_id: number; revoke_at: string }[] = []
  let next: number | undefined
  for (const k of state.sdkKeys.values()) {
    if (!k.previous) continue
    const at = Date.parse(k.previous.revoke_at)
    if (at <= nowMs) due.push({ environment_id: k.environment_id, key_id: k.id, revoke_at: k.previous.revoke_at })
    else if (next === undefined || at < next) next = at
  }
  return { due, next }
}

export const expiryRequestId = (keyId: number, revokeAt: string) => `expire-token-${keyId}-${revokeAt}`

export class GraceExpiry {
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly control: ControlLog, private readonly log: Logger) {}

  /** Only commands that can start or end a grace period make it look again (a scan reads every key). */
  onFold = (c: FoldedChange): void => {
    const t = c.command.type
    if (t === 'rotate_token' || t === 'seed' || t === 'checkpoint') this.schedule()
  }

  schedule(delayMs?: number): void {
    if (this.stopped || !this.control.complete) return
    const wait = delayMs ?? (() => {
      const { due, next } = dueExpiries(this.control.state, Date.now())
      if (due.length > 0) return 0
      return next === undefined ? undefined : Math.min(MAX_WAIT_MS, Math.max(0, next - Date.now()))
    })()
    if (wait === undefined) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.timer = undefined; void this.expire() }, wait)
    this.timer.unref()
  }

  private async expire(): Promise<void> {
    const { due } = dueExpiries(this.control.state, Date.now())
    try {
      for (const d of due) {
        await this.control.append({ type: 'expire_token', environment_id: d.environment_id, sdk_key_id: d.key_id, revoke_at: d.revoke_at }, 15_000, expiryRequestId(d.key_id, d.revoke_at))
        this.log.info({ environment_id: d.environment_id, sdk_key_id: d.key_id, revoke_at: d.revoke_at }, 'grace period ended: the old token of this SDK key is revoked')
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not append the end of a grace period; will retry')
      this.schedule(RETRY_MS)
      return
    }
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }
}
