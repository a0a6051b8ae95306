// workers/property-type.ts: one row per rule of PostHog's
// rust/property-defs-rs/src/types.rs (detect_property_type; issue 15 rule 7),
// on the lowercased key and the value.
import t from 'tap'
import { detectPropertyType, isDateLike, type PropertyType } from '../../../workers/property-type'

const NOW_MS = Date.parse('2025-03-04T05:10:00.000Z')
const DAY_MS = 24 * 3600 * 1000
const RECENT_MS = NOW_MS - 30 * DAY_MS
const FIVE_MONTHS_AGO_MS = NOW_MS - 150 * DAY_MS
const EIGHT_MONTHS_AGO_MS = NOW_MS - 250 * DAY_MS
const OLD_MS = Date.parse('2020-06-01T00:00:00.000Z')
const seconds = (ms: number): number => Math.floor(ms / 1000)

const ROWS: { rule: string; key: string; value: unknown; type: PropertyType | null }[] = [
  // prefixes and $feature_flag_response: always String, whatever the value
  { rule: 'utm_ prefix with a number', key: 'utm_source', value: 42, type: 'String' },
  { rule: 'utm_ prefix with a boolean', key: 'utm_medium', value: true, type: 'String' },
  { rule: 'utm_ prefix with a date-like string', key: 'utm_campaign', value: '2024-01-15', type: 'String' },
  { rule: 'utm_ prefix on the lowercased key', key: 'UTM_Content', value: 7, type: 'String' },
  { rule: '$initial_utm_ is not special in property-defs-rs', key: '$initial_utm_term', value: 3, type: 'Numeric' },
  { rule: '$feature/ prefix with a boolean', key: '$feature/new-checkout', value: false, type: 'String' },
  { rule: '$feature/ prefix with a number', key: '$feature/variant', value: 2, type: 'String' },
  { rule: '$survey_response prefix with a number', key: '$survey_response', value: 5, type: 'String' },
  { rule: '$survey_response prefix with a suffix', key: '$survey_response_1', value: 9, type: 'String' },
  { rule: '$feature_flag_response with a boolean', key: '$feature_flag_response', value: true, type: 'String' },
  { rule: '$feature_flag_response with a number', key: '$feature_flag_response', value: 1, type: 'String' },
  { rule: 'a key merely containing utm_ is not a prefix', key: 'my_utm_source', value: 42, type: 'Numeric' },

  // time-like keys with a date-like string
  { rule: 'key containing time, date-like string', key: 'signup_time', value: '2024-01-15', type: 'DateTime' },
  { rule: 'key containing date, date-like string', key: 'BirthDate', value: '15-01-2024', type: 'DateTime' },
  { rule: 'key containing _at, date-like string', key: 'paid_at', value: '2024-01-15T10:20:30Z', type: 'DateTime' },
  { rule: 'key containing -at, date-like string', key: 'paid-at', value: '01/15/2024', type: 'DateTime' },
  { rule: 'key containing createdat (any case), date-like string', key: 'createdAt', value: '2024/01/15', type: 'DateTime' },
  { rule: 'key containing updatedat (any case), date-like string', key: 'UPDATEDAT', value: 'Tue, 15 Nov 1994 08:12:31 GMT', type: 'DateTime' },
  { rule: 'time-like key with a string that is not a date', key: 'created_at', value: 'yesterday', type: 'String' },

  // time-like keys with an integer unix time
  { rule: 'time-like key, unix seconds from last month', key: 'created_at', value: seconds(RECENT_MS), type: 'DateTime' },
  { rule: 'time-like key, unix milliseconds from last month', key: 'created_at', value: RECENT_MS, type: 'DateTime' },
  { rule: 'time-like key, unix seconds from five months ago', key: 'last_seen_time', value: seconds(FIVE_MONTHS_AGO_MS), type: 'DateTime' },
  { rule: 'time-like key, unix milliseconds from five months ago', key: 'updatedAt', value: FIVE_MONTHS_AGO_MS, type: 'DateTime' },
  { rule: 'time-like key, unix seconds from eight months ago', key: 'created_at', value: seconds(EIGHT_MONTHS_AGO_MS), type: 'Numeric' },
  { rule: 'time-like key, old unix seconds', key: 'created_at', value: seconds(OLD_MS), type: 'Numeric' },
  { rule: 'time-like key, old unix milliseconds: over the threshold in seconds, so DateTime (Rust has no upper bound)', key: 'created_at', value: OLD_MS, type: 'DateTime' },
  { rule: 'time-like key, a large id', key: 'session_time', value: 9_000_000_000, type: 'DateTime' },
  { rule: 'time-like key, a negative integer', key: 'created_at', value: -1, type: 'Numeric' },
  { rule: 'time-like key, a non-integer recent unix time', key: 'created_at', value: seconds(RECENT_MS) + 0.5, type: 'Numeric' },
  { rule: 'time-like key, a small number', key: 'duration_time', value: 1500, type: 'Numeric' },
  { rule: 'a recent unix time under a key that is not time-like', key: 'count', value: seconds(RECENT_MS), type: 'Numeric' },

  // "true"/"false" strings
  { rule: '"true" string', key: 'is_admin', value: 'true', type: 'Boolean' },
  { rule: '"false" string', key: 'is_admin', value: 'false', type: 'Boolean' },
  { rule: '"TRUE" string, any case', key: 'is_admin', value: 'TRUE', type: 'Boolean' },
  { rule: '"False" is not one of the exact case forms', key: 'is_admin', value: 'False', type: 'String' },
  { rule: '"tRUE" is not one of the exact case forms', key: 'is_admin', value: 'tRUE', type: 'String' },
  { rule: '"FALSE"', key: 'is_admin', value: 'FALSE', type: 'Boolean' },
  { rule: '"true" string under a time-like key', key: 'created_at', value: 'true', type: 'Boolean' },
  { rule: '"yes" is not a boolean', key: 'is_admin', value: 'yes', type: 'String' },
  { rule: '" true " is trimmed: a boolean', key: 'is_admin', value: ' true ', type: 'Boolean' },
  { rule: 'a date with surrounding spaces is trimmed', key: 'x', value: ' 2024-01-15 ', type: 'DateTime' },

  // date-like strings under any key
  { rule: 'ISO date', key: 'x', value: '2024-01-15', type: 'DateTime' },
  { rule: 'ISO date-time with Z', key: 'x', value: '2024-01-15T10:20:30Z', type: 'DateTime' },
  { rule: 'ISO date-time with an offset', key: 'x', value: '2024-01-15T10:20:30+02:00', type: 'DateTime' },
  { rule: 'ISO date-time with a compact offset', key: 'x', value: '2024-01-15T10:20:30-0530', type: 'DateTime' },
  { rule: 'ISO date-time with a fraction', key: 'x', value: '2024-01-15T10:20:30.123Z', type: 'DateTime' },
  { rule: 'ISO date-time with microseconds and an offset', key: 'x', value: '2024-01-15T10:20:30.123456+01:00', type: 'DateTime' },
  { rule: 'ISO date-time without a zone', key: 'x', value: '2024-01-15T10:20:30', type: 'DateTime' },
  { rule: 'date and time with a space', key: 'x', value: '2024-01-15 10:20:30', type: 'DateTime' },
  { rule: 'DD-MM-YYYY', key: 'x', value: '15-01-2024', type: 'DateTime' },
  { rule: 'MM/DD/YYYY', key: 'x', value: '01/15/2024', type: 'DateTime' },
  { rule: 'YYYY/MM/DD', key: 'x', value: '2024/01/15', type: 'DateTime' },
  { rule: 'RFC 2822 with a zone name', key: 'x', value: 'Tue, 15 Nov 1994 08:12:31 GMT', type: 'DateTime' },
  { rule: 'RFC 2822 with an offset', key: 'x', value: 'Tue, 15 Nov 1994 08:12:31 +0200', type: 'DateTime' },
  { rule: 'RFC 2822 without the day name', key: 'x', value: '1 Jul 2003 10:52:37 +0200', type: 'DateTime' },
  { rule: 'RFC 3339 with a lower case t', key: 'x', value: '2024-01-15t10:20:30z', type: 'DateTime' },
  { rule: 'date and time without seconds is not accepted', key: 'x', value: '2024-01-15 10:20', type: 'String' },
  { rule: 'DD.MM.YYYY is not accepted', key: 'x', value: '15.01.2024', type: 'String' },
  { rule: 'a long text after a date-time is accepted (the pattern is a prefix)', key: 'x', value: '2024-01-15 10:20:30 and whatever follows', type: 'DateTime' },
  { rule: 'a prefix date with an impossible month digit', key: 'x', value: '2024-39-15', type: 'String' },

  // other strings
  { rule: 'a word', key: 'plan', value: 'pro', type: 'String' },
  { rule: 'the empty string', key: 'plan', value: '', type: 'String' },
  { rule: 'a year alone', key: 'plan', value: '2024', type: 'String' },
  { rule: 'a numeric string', key: 'plan', value: '42', type: 'String' },
  { rule: 'text containing a date', key: 'plan', value: 'hello 2024-01-01', type: 'String' },

  // numbers
  { rule: 'an integer', key: 'count', value: 42, type: 'Numeric' },
  { rule: 'zero', key: 'count', value: 0, type: 'Numeric' },
  { rule: 'a negative fraction', key: 'balance', value: -1.5, type: 'Numeric' },
  // JSON cannot carry these, but a non-finite number must not become Numeric
  { rule: 'Infinity', key: 'count', value: Infinity, type: null },
  { rule: '-Infinity', key: 'count', value: -Infinity, type: null },
  { rule: 'NaN', key: 'count', value: NaN, type: null },

  // booleans
  { rule: 'true', key: 'is_admin', value: true, type: 'Boolean' },
  { rule: 'false', key: 'is_admin', value: false, type: 'Boolean' },

  // no type
  { rule: 'null', key: 'plan', value: null, type: null },
  { rule: 'null under a time-like key', key: 'created_at', value: null, type: null },
  { rule: 'an array', key: 'tags', value: ['a', 'b'], type: null },
  { rule: 'an empty array', key: 'tags', value: [], type: null },
  { rule: 'an object', key: 'address', value: { city: 'Paris' }, type: null },
]

t.test('detects the type of each rule of DESIGN §4 step 9', async (t) => {
  for (const { rule, key, value, type } of ROWS) {
    t.equal(detectPropertyType(key, value, NOW_MS), type, `${rule}: ${key} = ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`)
  }
})

t.test('isDateLike accepts the date formats and rejects near misses', async (t) => {
  const yes = [
    '2024-01-15', '2024-01-15T10:20:30Z', '2024-01-15T10:20:30+02:00', '2024-01-15T10:20:30.123Z',
    '15-01-2024', '01/15/2024', '2024/01/15', 'Tue, 15 Nov 1994 08:12:31 GMT',
  ]
  const no = ['2024', 'hello 2024-01-01', '13/45/2024x', '2024-01-15 and more', 'not a date', '', '20240115', '2024-1-5']
  t.same(yes.filter((s) => !isDateLike(s)), [], 'every date-like string is accepted')
  t.same(no.filter((s) => isDateLike(s)), [], 'no other string is accepted')
})
