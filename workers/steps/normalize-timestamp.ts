// DESIGN §4 step 5, PostHog's rule: with a valid sent_at the client clock is
// corrected by the capture server's (`now + (timestamp − sent_at)`); with
// `offset`, `now − offset`; otherwise the client timestamp, else `now`.
// More than 23 h in the future → now (warning); unparseable or before 1970
// (not storable) → now (warning).
import { warn, type Step } from '../context'
import { ok } from '../result'

const FUTURE_LIMIT_MS = 23 * 3600 * 1000

// Messages of one capture request share `now` and `sent_at`, and a task holds
// runs of them: the last few texts parsed are remembered (Date.parse is a
// noticeable part of a worker's time otherwise).
const recentText = ['', '', '']
const recentMs = [NaN, NaN, NaN]
let nextSlot = 0

function parseTime(v: unknown): number {
  if (typeof v !== 'string' || v.length === 0) return NaN
  for (let i = 0; i < 3; i++) if (recentText[i] === v) return recentMs[i]
  const ms = Date.parse(v)
  recentText[nextSlot] = v
  recentMs[nextSlot] = ms
  nextSlot = (nextSlot + 1) % 3
  return ms
}

export const normalizeTimestamp: Step = (event, ctx) => {
  const captured = parseTime(event.now)
  const now = Number.isNaN(captured) ? ctx.nowMs : captured
  const ignoreSentAt = event.properties.$ignore_sent_at === true
  const sentAt = ignoreSentAt ? NaN : parseTime(event.sentAt)
  let ts: number
  if (event.timestamp !== undefined && event.timestamp !== null) {
    const client = parseTime(event.timestamp)
    if (Number.isNaN(client)) {
      warn(ctx, event, 'ignored_invalid_timestamp', { timestamp: String(event.timestamp).slice(0, 100) })
      ts = now
    } else {
      ts = Number.isNaN(sentAt) ? client : now + (client - sentAt)
    }
  } else if (typeof event.offset === 'number' && Number.isFinite(event.offset)) {
    ts = now - event.offset
  } else {
    ts = now
  }
  // Parseable but unstorable (before 1970, beyond Date's range): ClickHouse's DateTime cannot hold it.
  if (!Number.isFinite(ts) || ts < 0) {
    warn(ctx, event, 'ignored_invalid_timestamp', { timestamp: String(event.timestamp ?? event.offset).slice(0, 100) })
    ts = now
  } else if (ts - now > FUTURE_LIMIT_MS) {
    warn(ctx, event, 'event_timestamp_in_future', { timestamp: new Date(ts).toISOString(), now: new Date(now).toISOString() })
    ts = now
  }
  event.timestampMs = ts
  return ok()
}
