// DESIGN §4 step 5, PostHog's rule: with a valid sent_at the client clock is
// corrected by the capture server's (`now + (timestamp − sent_at)`);
// otherwise the client timestamp, else `now`; and a numeric `offset` wins
// over all of these (`now − offset`). `$ignore_sent_at: true` turns the
// correction off; an empty string counts as absent (timestamp and sent_at).
// More than 23 h in the future → now (warning); unparseable or before 1970
// (not storable) → now (warning).
//
// Issue 15 rule 4 follows PostHog's Rust rust/capture/src/timestamp.rs
// (`handle_timestamp`: offset applied after the timestamp, so it wins). The
// Node version (nodejs/src/worker/ingestion/timestamps.ts) looks at `offset`
// only when there is no timestamp; where they disagree Sluice follows Rust.
// Deliberate differences: Rust falls back to the epoch for years beyond
// 0..9999 and writes no warning; Sluice stores `now` with
// `ignored_invalid_timestamp`, as Node does, since ClickHouse's DateTime
// cannot hold times before 1970.
// Warning details use PostHog's keys (issue 15 rule 11): `eventUuid, field,
// value, reason` and `timestamp, sentAt, offset, now, result, eventName`,
// as nodejs/src/worker/ingestion/timestamps.ts writes them.
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
  event.capturedMs = now
  const ignoreSentAt = event.properties.$ignore_sent_at === true
  const sentAt = ignoreSentAt ? NaN : parseTime(event.sentAt)
  let ts: number
  const hasOffset = typeof event.offset === 'number' && Number.isFinite(event.offset)
  if (hasOffset) {
    ts = now - (event.offset as number)
  } else if (event.timestamp !== undefined && event.timestamp !== null && event.timestamp !== '') {
    const client = parseTime(event.timestamp)
    if (Number.isNaN(client)) {
      warn(ctx, event, 'ignored_invalid_timestamp', { field: 'timestamp', value: String(event.timestamp).slice(0, 100), reason: 'unparseable' })
      ts = now
    } else {
      ts = Number.isNaN(sentAt) ? client : now + (client - sentAt)
    }
  } else {
    ts = now
  }
  // Parseable but unstorable (before 1970, beyond Date's range): ClickHouse's DateTime cannot hold it.
  if (!Number.isFinite(ts) || ts < 0) {
    warn(ctx, event, 'ignored_invalid_timestamp', { field: hasOffset ? 'offset' : 'timestamp', value: String(hasOffset ? event.offset : event.timestamp).slice(0, 100), reason: 'out of range' })
    ts = now
  } else if (ts - now > FUTURE_LIMIT_MS) {
    warn(ctx, event, 'event_timestamp_in_future', {
      timestamp: event.timestamp ?? '', sentAt: event.sentAt ?? '', offset: event.offset ?? '', now: new Date(now).toISOString(), result: new Date(ts).toISOString(), eventName: event.eventName,
    })
    ts = now
  }
  event.timestampMs = ts
  return ok()
}
