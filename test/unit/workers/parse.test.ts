// workers/parse.ts: one Kafka message value → a WorkingEvent or a dead letter.
// Outer fields win over the event's own; the token has documented fallbacks.
import t from 'tap'
import { jsonError } from '../../harness/events'
import type { WorkingEvent } from '../../../workers/event'
import { parseCapturedMessage } from '../../../workers/parse'
import { deadLetter } from '../../../workers/result'

const UUID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
const OTHER_UUID = '0190a1b2-c3d4-7e5f-8a9b-ffffffffffff'

/** A captured message: outer fields plus `data`, the raw event as a JSON string */
const message = (outer: Record<string, unknown>, data: unknown): string => JSON.stringify({ ...outer, data: JSON.stringify(data) })

/** The messages here are made by JSON.stringify, so the kept properties text is the stringified object. */
function working(fields: Partial<WorkingEvent>): WorkingEvent {
  return {
    uuid: UUID, token: undefined, distinctId: undefined, rawEvent: undefined, eventName: '', properties: {}, propertiesText: JSON.stringify(fields.properties ?? {}), propertiesHead: '',
    ip: undefined, now: undefined, sentAt: undefined, timestamp: undefined, offset: undefined,
    env: undefined, groups: undefined, groupIdentifyIndex: -1, teamId: 0, projectId: 0, timestampMs: 0, capturedMs: 0, elementsChain: '',
    ...fields,
  }
}

const DEAD_LETTERS: { name: string; text: string; expected: ReturnType<typeof deadLetter> }[] = [
  { name: 'a value that is not JSON', text: 'not json', expected: deadLetter('invalid_json', `message is not JSON: ${jsonError('not json')}`) },
  { name: 'an empty value', text: '', expected: deadLetter('invalid_json', `message is not JSON: ${jsonError('')}`) },
  { name: 'a JSON array', text: '[{"data":"{}"}]', expected: deadLetter('invalid_json', 'message is not a JSON object') },
  { name: 'JSON null', text: 'null', expected: deadLetter('invalid_json', 'message is not a JSON object') },
  { name: 'a message without data', text: '{"token":"phc_x"}', expected: deadLetter('invalid_data', '`data` must be a JSON string of the event') },
  { name: 'data that is an object, not a string', text: JSON.stringify({ data: { uuid: UUID } }), expected: deadLetter('invalid_data', '`data` must be a JSON string of the event') },
  { name: 'data that is not JSON', text: JSON.stringify({ data: '{oops' }), expected: deadLetter('invalid_data', `\`data\` is not JSON: ${jsonError('{oops')}`) },
  { name: 'data that is a JSON array', text: message({}, [UUID]), expected: deadLetter('invalid_data', '`data` is not a JSON object') },
  { name: 'an event without uuid', text: message({}, { event: 'e' }), expected: deadLetter('invalid_uuid', 'the event has no uuid') },
  { name: 'an empty uuid', text: message({ uuid: '' }, { event: 'e' }), expected: deadLetter('invalid_uuid', 'the event has no uuid') },
  { name: 'a malformed uuid', text: message({ uuid: 'not-a-uuid' }, { event: 'e' }), expected: deadLetter('invalid_uuid', 'uuid "not-a-uuid" is not a UUID') },
  { name: 'a numeric uuid', text: message({}, { uuid: 42 }), expected: deadLetter('invalid_uuid', 'uuid 42 is not a UUID') },
]

for (const { name, text, expected } of DEAD_LETTERS) {
  t.test(`dead-letters ${name} as ${expected.reason}`, async (t) => {
    t.same(parseCapturedMessage(text), expected)
  })
}

t.test('reads a complete captured message', async (t) => {
  const text = message(
    { uuid: UUID, distinct_id: 'user-1', ip: '203.0.113.7', now: '2025-03-04T05:06:00.000Z', sent_at: '2025-03-04T05:05:59.000Z', token: 'phc_outer' },
    { event: '$pageview', properties: { path: '/home' }, timestamp: '2025-03-04T05:05:58.000Z', offset: 12 },
  )
  t.same(parseCapturedMessage(text), working({
    token: 'phc_outer', distinctId: 'user-1', rawEvent: '$pageview', properties: { path: '/home' }, ip: '203.0.113.7',
    now: '2025-03-04T05:06:00.000Z', sentAt: '2025-03-04T05:05:59.000Z', timestamp: '2025-03-04T05:05:58.000Z', offset: 12,
  }))
})

t.test('outer token, distinct_id, uuid and sent_at win over the event\'s own', async (t) => {
  const text = message(
    { uuid: UUID, token: 'phc_outer', distinct_id: 'outer-id', sent_at: '2025-01-01T00:00:00Z' },
    { uuid: OTHER_UUID, token: 'phc_data', distinct_id: 'data-id', sent_at: '2024-01-01T00:00:00Z', event: 'e', properties: { token: 'phc_props', distinct_id: 'props-id' } },
  )
  t.same(parseCapturedMessage(text), working({
    token: 'phc_outer', distinctId: 'outer-id', sentAt: '2025-01-01T00:00:00Z', rawEvent: 'e', properties: { token: 'phc_props', distinct_id: 'props-id' },
  }))
})

t.test('the event\'s uuid, distinct_id and sent_at are used when the outer message has none', async (t) => {
  const text = message({}, { uuid: OTHER_UUID.toUpperCase(), distinct_id: 'data-id', sent_at: '2024-01-01T00:00:00Z', event: 'e' })
  t.same(parseCapturedMessage(text), working({ uuid: OTHER_UUID, distinctId: 'data-id', sentAt: '2024-01-01T00:00:00Z', rawEvent: 'e' }))
})

t.test('distinct_id falls back to properties.distinct_id', async (t) => {
  const text = message({ uuid: UUID }, { event: 'e', properties: { distinct_id: 7 } })
  t.same(parseCapturedMessage(text), working({ distinctId: 7, rawEvent: 'e', properties: { distinct_id: 7 } }))
})

const TOKENS: { name: string; outer: Record<string, unknown>; data: Record<string, unknown>; token: string | undefined }[] = [
  { name: 'data.token when the outer token is missing', outer: {}, data: { token: 'phc_data', api_key: 'phc_key', properties: { token: 'phc_props' } }, token: 'phc_data' },
  { name: 'data.token when the outer token is empty', outer: { token: '' }, data: { token: 'phc_data' }, token: 'phc_data' },
  { name: 'data.api_key after data.token', outer: {}, data: { api_key: 'phc_key', properties: { token: 'phc_props' } }, token: 'phc_key' },
  { name: 'properties.token last', outer: {}, data: { token: 12, properties: { token: 'phc_props' } }, token: 'phc_props' },
  { name: 'no token at all', outer: { token: null }, data: { properties: {} }, token: undefined },
]

for (const { name, outer, data, token } of TOKENS) {
  t.test(`the token falls back to ${name}`, async (t) => {
    const parsed = parseCapturedMessage(message({ uuid: UUID, ...outer }, { event: 'e', ...data }))
    t.same('token' in parsed ? parsed.token : parsed, token)
  })
}

t.test('properties that are not an object become an empty object', async (t) => {
  const parsed = parseCapturedMessage(message({ uuid: UUID }, { event: 'e', properties: ['a'] }))
  t.same(parsed, working({ rawEvent: 'e', properties: {} }))
})

// `data` is checked for lone surrogates only when the message spells an escape that could make one there (well-formed.ts wellFormedJsonText)
const NESTED_SURROGATES: [string, string, string][] = [
  // [name, the value of `data` as the raw message spells it, the property's expected value]
  ['an escape one level down', '\\\\ud800x', '\ufffdx'],
  ['a backslash spelled \\u005c before ud800', '\\u005cud800x', '\ufffdx'],
  ['a backslash spelled \\u005C (upper case)', '\\u005Cudfffx', '\ufffdx'],
  ['an escaped pair one level down (kept)', '\\\\ud83d\\\\ude00', '😀'],
  ['an escaped backslash, then text', '\\\\\\\\ud800', '\\ud800'],
]
for (const [name, spelled, expected] of NESTED_SURROGATES) {
  t.test(`a lone surrogate inside data becomes U+FFFD: ${name}`, async (t) => {
    const raw = `{"uuid":"${UUID}","data":"{\\"event\\":\\"e\\",\\"properties\\":{\\"p\\":\\"${spelled}\\"}}"}`
    const parsed = parseCapturedMessage(raw)
    if ('kind' in parsed) return t.fail(`dead letter: ${JSON.stringify(parsed)}`)
    t.equal(parsed.properties.p, expected)
    t.ok(parsed.propertiesText!.isWellFormed() && JSON.parse(parsed.propertiesText!).p === expected, 'the kept text says the same')
  })
}
