// Hostile input through the real broker and ClickHouse: over 10,000
// generated messages of every bad kind mixed with valid ones. The process
// stays up, every message is accounted for by reason (consumed = stored +
// dropped + dead-lettered), and the valid ones are stored intact.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { eventually } from '../harness/engine-process'
import { startStack } from '../harness/stack'
import { capturedMessage } from '../harness/events'
import { readTopic } from '../harness/kafka'

const TOPIC = 'events_plugin_ingestion'
const DB = 'hostile'
const MAX_MESSAGE_BYTES = 65_536
const VALID = 2500

type Expect = { stored: true } | { drop: string } | { dlq: string }

interface Case { name: string; make: (i: number, token: string) => Buffer | string; expect: Expect; n: number }

const outer = (o: Record<string, unknown>) => JSON.stringify(o)
const data = (d: Record<string, unknown>) => JSON.stringify(d)
const valid = (token: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  const uuid = randomUUID()
  return outer({ uuid, token, distinct_id: 'd', now: new Date().toISOString(), data: data({ event: 'ok', properties, uuid, ...extra }) })
}
// built as text: JSON.stringify of it would overflow this process's stack too
const DEEP = '['.repeat(20_000) + '"bottom"' + ']'.repeat(20_000)
const deepMessage = (token: string) => {
  const uuid = randomUUID()
  return outer({ uuid, token, distinct_id: 'd', data: `{"event":"ok","uuid":"${uuid}","properties":{"deep":${DEEP}}}` })
}

const CASES: Case[] = [
  { name: 'valid events', n: VALID, expect: { stored: true }, make: (i, token) => capturedMessage({ token, distinct_id: `v${i}`, event: 'valid', properties: { i, text: `héllo ${i}`, nested: { a: [1, 2, { b: null }] } } }) },
  { name: 'truncated JSON', n: 1500, expect: { dlq: 'invalid_json' }, make: (i, token) => { const s = capturedMessage({ token }); return s.slice(0, 10 + (i % (s.length - 11))) } },
  { name: 'not JSON at all', n: 300, expect: { dlq: 'invalid_json' }, make: (i) => ['', 'null', '42', '"str"', '[1,2]', 'true', '\u0000\u0001', '{{{'][i % 8] },
  { name: 'data missing or not a string', n: 400, expect: { dlq: 'invalid_data' }, make: (i, token) => outer({ uuid: randomUUID(), token, distinct_id: 'd', data: [undefined, 5, { event: 'x' }, ['x'], null, true][i % 6] }) },
  { name: 'data not JSON or not an object', n: 400, expect: { dlq: 'invalid_data' }, make: (i, token) => outer({ uuid: randomUUID(), token, distinct_id: 'd', data: ['', '{"event":', '[1]', '"s"', '7'][i % 5] }) },
  { name: 'uuid missing, malformed, a number', n: 600, expect: { dlq: 'invalid_uuid' }, make: (i, token) => outer({ uuid: [undefined, 'not-a-uuid', 12345, '', { a: 1 }, '0190e2f1-8a3b-7c4d-9e5f-12345678zzzz'][i % 6], token, distinct_id: 'd', data: data({ event: 'x' }) }) },
  { name: 'over the size limit', n: 20, expect: { dlq: 'message_too_large' }, make: (i, token) => capturedMessage({ token, properties: { big: 'x'.repeat(MAX_MESSAGE_BYTES + i) } }) },
  { name: 'no token anywhere', n: 500, expect: { drop: 'no_token' }, make: (i) => outer({ uuid: randomUUID(), token: [undefined, 5, '', null, {}][i % 5], distinct_id: 'd', data: data({ event: 'x' }) }) },
  { name: 'unknown tokens', n: 1200, expect: { drop: 'invalid_token' }, make: (i) => capturedMessage({ token: `phc_unknown_${i % 37}_abcdef` }) },
  { name: 'distinct_id missing, empty, an object, too long', n: 800, expect: { drop: 'invalid_distinct_id' }, make: (i, token) => outer({ uuid: randomUUID(), token, distinct_id: [undefined, '', { id: 1 }, ['a'], 'x'.repeat(401), null, true, ''][i % 8], data: data({ event: 'x' }) }) },
  { name: 'event name missing or empty', n: 400, expect: { drop: 'invalid_event_name' }, make: (i, token) => outer({ uuid: randomUUID(), token, distinct_id: 'd', data: data({ event: ['', null, undefined][i % 3] }) }) },
  { name: 'wrong types stored anyway (numeric distinct_id, object event name, array properties, numeric timestamp)', n: 800, expect: { stored: true },
    make: (i, token) => { const uuid = randomUUID(); return outer({ uuid, token, distinct_id: 1000 + i, data: data({ event: [{ a: 1 }, 17, ['x'], 'x'.repeat(300)][i % 4], properties: [[1, 2], 'str', 5, null][i % 4], timestamp: [12, 'yesterday', {}, '2020-13-45'][i % 4], uuid }) }) } },
  { name: 'NUL bytes and invalid UTF-8 in strings', n: 800, expect: { stored: true },
    make: (i, token) => i % 2 === 0
      ? valid(token, { nul: 'a\u0000b', ['k\u0000']: 1 })
      : Buffer.concat([Buffer.from(valid(token, { bad: 'AAAA' }).replace('AAAA', '@@@@').split('@@@@')[0]), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(valid(token, { bad: 'AAAA' }).split('AAAA')[1] ?? '')]) },
  { name: 'huge strings and arrays within the limit', n: 40, expect: { stored: true }, make: (i, token) => valid(token, { long: 'y'.repeat(20_000), list: Array.from({ length: 2000 }, (_, k) => k) }) },
  { name: 'deep nesting', n: 20, expect: { dlq: 'processing_error' }, make: (i, token) => deepMessage(token) },
]

t.test('10,000+ hostile messages: the process stays up and every message is accounted for', async (t) => {
  const stack = await startStack({ database: DB })
  t.teardown(() => stack.close('SIGKILL'))
  const { kafka, store, producer } = stack
  const engine = await stack.start({ SLUICE_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES), SLUICE_LOG_LEVEL: 'warn' })
  const token = (await engine.api('POST', '/api/projects', { name: 'Target' })).body.environments[0].api_token

  const messages: (string | Buffer)[] = []
  const expected = { stored: 0, drop: new Map<string, number>(), dlq: new Map<string, number>() }
  for (const c of CASES) {
    for (let i = 0; i < c.n; i++) messages.push(c.make(i, token))
    if ('stored' in c.expect) expected.stored += c.n
    else if ('drop' in c.expect) expected.drop.set(c.expect.drop, (expected.drop.get(c.expect.drop) ?? 0) + c.n)
    else expected.dlq.set(c.expect.dlq, (expected.dlq.get(c.expect.dlq) ?? 0) + c.n)
  }
  // interleave the kinds so that every batch mixes good and bad
  for (let i = messages.length - 1; i > 0; i--) { const j = (i * 7919) % (i + 1); [messages[i], messages[j]] = [messages[j], messages[i]] }
  t.ok(messages.length >= 10_000, `${messages.length} messages`)
  for (let i = 0; i < messages.length; i += 2000) await producer.send(TOPIC, messages.slice(i, i + 2000), () => randomUUID())

  const settled = await eventually(async () => (await engine.metric('sluice_offsets_committed_messages_total')) === messages.length, 120_000, 500)
  t.ok(settled, 'every message was committed: the consumer never stalled')
  t.equal(engine.child.exitCode, null, 'the process is still up')
  t.equal((await fetch(engine.adminUrl + '/healthz')).status, 200)

  const stored = await engine.metric('sluice_events_inserted_total{table="hostile.events"}')
  let dropped = 0
  for (const reason of ['no_token', 'invalid_token', 'invalid_distinct_id', 'invalid_event_name', 'event_filtered', 'event_too_old', 'group_key_too_long']) {
    const n = await engine.metric(`sluice_events_dropped_total{reason="${reason}"}`)
    dropped += n
    t.equal(n, expected.drop.get(reason) ?? 0, `dropped as ${reason}`)
  }
  let dead = 0
  for (const reason of ['invalid_json', 'invalid_data', 'invalid_uuid', 'message_too_large', 'processing_error', 'insert_rejected']) {
    const n = await engine.metric(`sluice_dead_letters_total{reason="${reason}"}`)
    dead += n
    t.equal(n, expected.dlq.get(reason) ?? 0, `dead-lettered as ${reason}`)
  }
  t.equal(stored, expected.stored, 'stored')
  t.equal(await engine.metric('sluice_messages_consumed_total'), messages.length, 'consumed')
  t.equal(stored + dropped + dead, messages.length, 'consumed = stored + dropped + dead-lettered')
  t.equal(Number((await store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.events`))[0].n), expected.stored, 'rows in ClickHouse')

  const letters = await readTopic(kafka.bootstrapServers, 'events_dead_letter_queue', dead, 60_000)
  t.equal(letters.length, dead, 'every dead letter is on the dead-letter topic')
  const headers = letters[0].headers?.map((h) => Object.keys(h)[0]) ?? []
  t.same(headers.sort(), ['sluice-error', 'sluice-reason', 'sluice-source-offset', 'sluice-source-partition', 'sluice-source-topic', 'sluice-step', 'sluice-time'], 'a dead letter says where it came from and why')

  // valid events intact
  const rows = await store.query<{ distinct_id: string; properties: string }>(`SELECT distinct_id, properties FROM ${DB}.events WHERE event = 'valid' ORDER BY distinct_id`)
  t.equal(rows.length, VALID)
  const intact = rows.filter((r) => {
    const p = JSON.parse(r.properties)
    const i = Number(r.distinct_id.slice(1))
    return p.i === i && p.text === `héllo ${i}` && JSON.stringify(p.nested) === '{"a":[1,2,{"b":null}]}'
  })
  t.equal(intact.length, VALID, 'valid events are stored with their properties intact')
  // issue 15 rule 10: NUL stays in property values, as PostHog keeps it (the JSON text holds its escape)
  const nul = await store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.events WHERE position(properties, 'a\\\\u0000b') > 0`)
  t.equal(Number(nul[0].n), 400, 'NUL kept in property values')
  const warnings = await store.query<{ type: string }>(`SELECT DISTINCT type FROM ${DB}.ingestion_warnings ORDER BY type`)
  t.same(warnings.map((w) => w.type), ['ignored_invalid_timestamp', 'skipping_event_invalid_distinct_id'], 'warnings were written, with PostHog\'s type names')
  const rateLimited = await store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.ingestion_warnings WHERE type = 'ignored_invalid_timestamp'`)
  t.equal(Number(rateLimited[0].n), 1, 'warnings are rate-limited per environment and type')
})
