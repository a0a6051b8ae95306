// Property type detection (DESIGN §4 step 9, PostHog's rules), on the
// lowercased key and the value. The first detected type of a property sticks
// (decided by the sink); here we only say what this one value suggests.

export type PropertyType = 'String' | 'Numeric' | 'Boolean' | 'DateTime'

const STRING_PREFIXES = ['utm_', '$initial_utm_', '$feature/', '$survey_response']
const TIME_HINTS = ['time', 'date', '_at', '-at', 'createdat', 'updatedat']
const SIX_MONTHS_MS = 183 * 24 * 3600 * 1000

// ISO 8601 date or date-time; DD-MM-YYYY / MM/DD/YYYY / DD.MM.YYYY (with optional time); YYYY/MM/DD;
// RFC 2822 ("Tue, 15 Nov 1994 08:12:31 GMT").
const DATE_LIKE = [
  /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i,
  /^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}([T ]\d{2}:\d{2}(:\d{2})?)?$/,
  /^\d{4}\/\d{2}\/\d{2}( \d{2}:\d{2}(:\d{2})?)?$/,
  /^[a-z]{3}, \d{1,2} [a-z]{3} \d{4} \d{2}:\d{2}(:\d{2})? ([a-z]{3}|[+-]\d{4})$/i,
]

export function isDateLike(s: string): boolean {
  if (s.length < 8 || s.length > 40) return false
  for (const re of DATE_LIKE) if (re.test(s)) return true
  return false
}

/** An integer unix time (seconds or milliseconds) within the last ~6 months. */
function isRecentUnixTime(n: number, nowMs: number): boolean {
  if (!Number.isInteger(n)) return false
  const ms = n < 1e11 ? n * 1000 : n
  return ms >= nowMs - SIX_MONTHS_MS && ms <= nowMs + 24 * 3600 * 1000
}

const KEY_PLAIN = 0
const KEY_STRING = 1 // always String, whatever the value
const KEY_TIME_HINT = 2 // a date-like value makes it DateTime

/** What the key alone says about its type: KEY_PLAIN, KEY_STRING or KEY_TIME_HINT. */
export function keyClass(key: string): number {
  const k = key.toLowerCase()
  for (const p of STRING_PREFIXES) if (k.startsWith(p)) return KEY_STRING
  if (k === '$feature_flag_response') return KEY_STRING
  return TIME_HINTS.some((h) => k.includes(h)) ? KEY_TIME_HINT : KEY_PLAIN
}

// What the key says is decided once per key, not per event (lowercasing and
// six substring searches for every property of every event showed in
// bench/parse.bench.ts profiles). Bounded: cleared when full.
const keyClasses = new Map<string, number>()
const MAX_KEY_CLASSES = 50_000

export function detectPropertyType(key: string, value: unknown, nowMs: number): PropertyType | null {
  let cls = keyClasses.get(key)
  if (cls === undefined) {
    cls = keyClass(key)
    if (keyClasses.size >= MAX_KEY_CLASSES) keyClasses.clear()
    keyClasses.set(key, cls)
  }
  return propertyTypeOf(cls, value, nowMs)
}

/** The type one value suggests, given its key's class (keyClass). */
export function propertyTypeOf(cls: number, value: unknown, nowMs: number): PropertyType | null {
  if (cls === KEY_STRING) return 'String'
  if (cls === KEY_TIME_HINT) {
    if (typeof value === 'string' && isDateLike(value)) return 'DateTime'
    if (typeof value === 'number' && isRecentUnixTime(value, nowMs)) return 'DateTime'
  }
  switch (typeof value) {
    case 'string': {
      const lower = value.length <= 5 ? value.toLowerCase() : ''
      if (lower === 'true' || lower === 'false') return 'Boolean'
      return isDateLike(value) ? 'DateTime' : 'String'
    }
    case 'number': return Number.isFinite(value) ? 'Numeric' : null
    case 'boolean': return 'Boolean'
    default: return null
  }
}
