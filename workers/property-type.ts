// Property type detection (DESIGN §4 step 9, PostHog's rules), on the
// lowercased key and the value. The first detected type of a property sticks
// (decided by the sink); here we only say what this one value suggests.

export type PropertyType = 'String' | 'Numeric' | 'Boolean' | 'DateTime'

// Issue 15 rule 7: exactly as PostHog's rust/property-defs-rs/src/types.rs
// (`detect_property_type`), which the Node pipeline no longer runs; where the
// older Node rules (DESIGN §4 step 9) differ, Rust wins:
// - String whatever the value: lowercased key starting `utm_`, `$feature/`,
//   `$survey_response`, or equal to `$feature_flag_response`
//   (`$initial_utm_…` is not special any more);
// - a time-like key (`time`, `timestamp`, `date`, `_at`, `-at`, `createdat`,
//   `updatedat`) with a date-like string, or a non-negative integer at least
//   "now − 15 768 000 s" (no upper bound: a unix time in ms, however old,
//   counts, and so does any large id) → DateTime;
// - strings, trimmed: exactly `true`/`false`/`TRUE`/`FALSE` → Boolean
//   (`True` is a String), date-like → DateTime, else String;
// - numbers → Numeric; booleans → Boolean; null, arrays, objects → no type.
// Date-like: RFC 3339 or RFC 2822 as chrono parses them, or the prefix
// pattern YYYY[-/]MM[-/]DD | MM[-/]DD[-/]YYYY optionally followed by
// `[ T]hh:mm:ss…` (so `2024-01-15 10:20` without seconds and `15.01.2024`
// are Strings).
const STRING_PREFIXES = ['utm_', '$feature/', '$survey_response']
const TIME_HINTS = ['time', 'timestamp', 'date', '_at', '-at', 'createdat', 'updatedat']
const SIX_MONTHS_S = 15_768_000

const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/
const RFC2822 = /^\s*((mon|tue|wed|thu|fri|sat|sun)\s*,\s*)?\d{1,2}\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+\d{2,4}\s+\d{2}:\d{2}(:\d{2})?\s+([+-]\d{4}|ut|gmt|[ecmp][sd]t|[a-ik-z])\s*$/i
const DATE_PREFIX = /^(([0-9]{4}[/-][0-2][0-9][/-][0-3][0-9])|([0-2][0-9][/-][0-3][0-9][/-][0-9]{4}))([ T][0-2][0-9]:[0-6][0-9]:[0-6][0-9][^\n]*)?$/

export function isDateLike(s: string): boolean {
  // every accepted form starts with a digit, or a letter or space (RFC 2822)
  if (s.length < 8) return false
  return DATE_PREFIX.test(s) || RFC3339.test(s) || RFC2822.test(s)
}

/** serde_json's as_u64 and Rust's threshold: a non-negative integer at least six months before now, in seconds. */
function isLikelyUnixTime(n: number, nowMs: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 18446744073709551615 && n >= Math.floor(nowMs / 1000) - SIX_MONTHS_S
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
    if (typeof value === 'number' && isLikelyUnixTime(value, nowMs)) return 'DateTime'
  }
  switch (typeof value) {
    case 'string': {
      // Rust trims first; the common value has no surrounding space and is not copied
      const v = value.length > 0 && (value.charCodeAt(0) <= 32 || value.charCodeAt(value.length - 1) <= 32) ? value.trim() : value
      if (v === 'true' || v === 'false' || v === 'TRUE' || v === 'FALSE') return 'Boolean'
      return isDateLike(v) ? 'DateTime' : 'String'
    }
    case 'number': return Number.isFinite(value) ? 'Numeric' : null
    case 'boolean': return 'Boolean'
    default: return null
  }
}
