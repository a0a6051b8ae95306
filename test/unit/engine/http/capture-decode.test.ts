// engine/http/capture-decode.ts: every wire format PostHog's SDKs use decodes
// to the same events; every malformed request is rejected whole with its
// status; messages follow DESIGN §4.
import zlib from 'node:zlib'
import t from 'tap'
import { SluiceError } from '../../../../engine/errors'
import { captureMessages, decodeCapture, type CaptureInput } from '../../../../engine/http/capture-decode'

const MAX = 64 * 1024
const UUID_A = '01890a5d-ac96-774b-bcce-7e1b1c2e1a01'
const UUID_B = '01890a5d-ac96-774b-bcce-7e1b1c2e1a02'

function input(body: string | Buffer, over: Partial<CaptureInput> & { q?: string } = {}): CaptureInput {
  return {
    method: over.method ?? 'POST',
    query: new URLSearchParams(over.q ?? ''),
    contentType: over.contentType,
    contentEncoding: over.contentEncoding,
    body: typeof body === 'string' ? Buffer.from(body) : body,
  }
}

let n = 0
const seq = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`
const decode = (i: CaptureInput, max = MAX) => { n = 0; return decodeCapture(i, max, seq) }

function failure(fn: () => unknown): { code: string; status: number; message: string } | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof SluiceError) return { code: err.code, status: err.status, message: err.message }
    throw err
  }
  return undefined
}

const nodeBatch = {
  api_key: 'phc_node',
  batch: [
    { event: 'signed up', distinct_id: 'u1', properties: { plan: 'pro', $lib: 'posthog-node' }, timestamp: '2026-11-20T10:00:00.000Z', uuid: UUID_A },
    { event: '$identify', distinct_id: 'u1', properties: { $set: { email: 'a@b.c' } }, timestamp: '2026-11-20T10:00:01.000Z', uuid: UUID_B },
  ],
  sent_at: '2026-11-20T10:00:02.000Z',
}
const nodeExpected = {
  events: [
    { uuid: UUID_A, distinctId: 'u1', token: 'phc_node', event: nodeBatch.batch[0] },
    { uuid: UUID_B, distinctId: 'u1', token: 'phc_node', event: nodeBatch.batch[1] },
  ],
  sentAt: '2026-11-20T10:00:02.000Z',
}

t.test('a posthog-node batch: api_key at the top applies to every event, sent_at kept', async (t) => {
  t.same(decode(input(JSON.stringify(nodeBatch), { contentType: 'application/json' })), nodeExpected)
})

t.test('a JSON body labelled as a form (curl -d) is read as JSON, as PostHog does', async (t) => {
  t.same(decode(input(JSON.stringify(nodeBatch), { contentType: 'application/x-www-form-urlencoded' })), nodeExpected)
  t.same(decode(input('  \n' + JSON.stringify(nodeBatch), { contentType: 'application/x-www-form-urlencoded' })), nodeExpected)
})

t.test('the same batch gzipped with Content-Encoding: gzip decodes identically', async (t) => {
  const body = zlib.gzipSync(JSON.stringify(nodeBatch))
  t.same(decode(input(body, { contentType: 'application/json', contentEncoding: 'gzip' })), nodeExpected)
})

t.test('deflate and brotli Content-Encodings decode too', async (t) => {
  t.same(decode(input(zlib.deflateSync(JSON.stringify(nodeBatch)), { contentEncoding: 'deflate' })), nodeExpected)
  t.same(decode(input(zlib.brotliCompressSync(JSON.stringify(nodeBatch)), { contentEncoding: 'br' })), nodeExpected)
})

// posthog-js: an array of events, token in properties, send time in `_`
const jsEvents = [
  { event: '$pageview', properties: { token: 'phc_js', distinct_id: 'anon-1', $current_url: 'https://shop.example/' }, timestamp: '2026-11-20T10:00:00.000Z', uuid: UUID_A },
  { event: 'clicked', properties: { token: 'phc_js', distinct_id: 'anon-1' }, timestamp: '2026-11-20T10:00:00.500Z' },
]
const jsExpected = {
  events: [
    { uuid: UUID_A, distinctId: 'anon-1', token: 'phc_js', event: jsEvents[0] },
    { uuid: '00000000-0000-4000-8000-000000000001', distinctId: 'anon-1', token: 'phc_js', event: jsEvents[1] },
  ],
  sentAt: '2026-11-20T10:00:03.000Z',
}
const sentMs = String(Date.parse('2026-11-20T10:00:03.000Z'))

t.test('a posthog-js array with ?compression=gzip-js and a text/plain gzip body; `_` is the send time', async (t) => {
  const body = zlib.gzipSync(JSON.stringify(jsEvents))
  t.same(decode(input(body, { contentType: 'text/plain', q: `_=${sentMs}&ver=1.300.0&compression=gzip-js` })), jsExpected)
})

t.test('a gzip body without any declaration is recognised by its magic bytes (beacons)', async (t) => {
  t.same(decode(input(zlib.gzipSync(JSON.stringify(jsEvents)), { q: `_=${sentMs}&beacon=1` })), jsExpected)
})

t.test('form-encoded data= with base64 (compression=base64), percent-encoded or with raw + and /', async (t) => {
  const b64 = Buffer.from(JSON.stringify(jsEvents)).toString('base64')
  const form = { contentType: 'application/x-www-form-urlencoded', q: `_=${sentMs}&compression=base64` }
  t.same(decode(input('data=' + encodeURIComponent(b64), form)), jsExpected, 'percent-encoded')
  t.same(decode(input('data=' + b64, form)), jsExpected, 'not percent-encoded: + arrives as a space')
  t.same(decode(input('data=' + encodeURIComponent(b64), { q: `_=${sentMs}` })), jsExpected, 'recognised without a content type')
})

t.test('form data= with plain JSON, and URL-safe base64, decode too', async (t) => {
  const q = { contentType: 'application/x-www-form-urlencoded', q: `_=${sentMs}` }
  t.same(decode(input('data=' + encodeURIComponent(JSON.stringify(jsEvents)), q)), jsExpected)
  t.same(decode(input('data=' + Buffer.from(JSON.stringify(jsEvents)).toString('base64url'), q)), jsExpected)
})

t.test('a GET with a data query parameter is a capture request', async (t) => {
  const b64 = Buffer.from(JSON.stringify(jsEvents)).toString('base64')
  t.same(decode(input('', { method: 'GET', q: `_=${sentMs}&data=${encodeURIComponent(b64)}` })), jsExpected)
})

t.test('a single event: token at its top (api_key, token or $token) or in properties; a number distinct_id is stringified', async (t) => {
  for (const tokenField of ['api_key', 'token', '$token']) {
    const event = { event: 'x', distinct_id: 42, [tokenField]: 'phc_one', properties: {}, sent_at: '2026-11-20T10:00:00Z' }
    t.same(decode(input(JSON.stringify(event))), {
      events: [{ uuid: '00000000-0000-4000-8000-000000000001', distinctId: '42', token: 'phc_one', event }],
      sentAt: '2026-11-20T10:00:00Z',
    }, tokenField)
  }
  const event = { event: 'x', $distinct_id: 'd', properties: { token: 'phc_p' } }
  t.same(decode(input(JSON.stringify(event))).events.map((e) => [e.distinctId, e.token]), [['d', 'phc_p']])
})

t.test('a batch without a top-level token uses each event\'s own', async (t) => {
  const body = { batch: [{ event: 'a', distinct_id: 'd', api_key: 'phc_1' }, { event: 'b', distinct_id: 'd', properties: { token: 'phc_2' } }] }
  t.same(decode(input(JSON.stringify(body))).events.map((e) => e.token), ['phc_1', 'phc_2'])
})

function jsonError(text: string): string {
  try { JSON.parse(text) } catch (err) { return (err as Error).message }
  return ''
}

const bad = (code: string, status: number, message: string) => ({ code, status, message })

t.test('malformed requests are rejected with their status and a message naming the problem', async (t) => {
  const cases: [string, CaptureInput, ReturnType<typeof bad>][] = [
    ['invalid JSON', input('{"event":'), bad('SLUICE_ERR_INVALID_JSON', 400, 'the request body is not valid JSON: ' + jsonError('{"event":'))],
    ['empty body', input(''), bad('SLUICE_ERR_INVALID_JSON', 400, 'the request body is not valid JSON: the body is empty')],
    ['a JSON string', input('"hi"'), bad('SLUICE_ERR_INVALID_JSON', 400, 'the request body is not valid JSON: expected a JSON object or array')],
    ['bad gzip', input('not gzip at all', { contentEncoding: 'gzip' }), bad('SLUICE_ERR_INVALID_ENCODING', 400, 'the request body could not be decoded: invalid gzip data (incorrect header check)')],
    ['bad gzip-js', input('{"event":"x"}', { q: 'compression=gzip-js' }), bad('SLUICE_ERR_INVALID_ENCODING', 400, 'the request body could not be decoded: invalid gzip data (incorrect header check)')],
    ['bad base64', input('data=%%%%', { contentType: 'application/x-www-form-urlencoded' }), bad('SLUICE_ERR_INVALID_ENCODING', 400, 'the request body could not be decoded: the data field is neither JSON nor base64')],
    ['form without data', input('foo=1', { contentType: 'application/x-www-form-urlencoded' }), bad('SLUICE_ERR_INVALID_ENCODING', 400, 'the request body could not be decoded: the form body has no data field')],
    ['GET without data', input('', { method: 'GET' }), bad('SLUICE_ERR_INVALID_ENCODING', 400, 'the request body could not be decoded: a GET request carries its events in the data query parameter')],
    ['unknown encoding', input('{}', { contentEncoding: 'zstd' }), bad('SLUICE_ERR_UNSUPPORTED_ENCODING', 415, 'unsupported Content-Encoding zstd: send gzip, deflate, br or none')],
    ['lz64', input('data=abc', { q: 'compression=lz64' }), bad('SLUICE_ERR_UNSUPPORTED_ENCODING', 415, 'unsupported compression lz64: send gzip-js, base64 or plain JSON')],
    ['no events', input('[]'), bad('SLUICE_ERR_INVALID_EVENT', 400, 'the request holds no events')],
    ['batch not an array', input('{"api_key":"k","batch":{}}'), bad('SLUICE_ERR_INVALID_EVENT', 400, 'batch must be an array of events')],
    ['event not an object', input('[{"event":"a","distinct_id":"d","token":"k"}, 3]'), bad('SLUICE_ERR_INVALID_EVENT', 400, 'event 1 is not a JSON object')],
    ['no event name', input('{"distinct_id":"d","api_key":"k"}'), bad('SLUICE_ERR_INVALID_EVENT', 400, 'the event has no event name')],
    ['no distinct_id', input('{"api_key":"k","batch":[{"event":"a","distinct_id":"d"},{"event":"b","properties":{}}]}'), bad('SLUICE_ERR_INVALID_EVENT', 400, 'event 1 has no distinct_id')],
    ['empty distinct_id', input('{"event":"a","distinct_id":"","api_key":"k"}'), bad('SLUICE_ERR_INVALID_EVENT', 400, 'the event has no distinct_id')],
    ['bad uuid', input('{"event":"a","distinct_id":"d","api_key":"k","uuid":"nope"}'), bad('SLUICE_ERR_INVALID_EVENT', 400, 'the event has an invalid uuid')],
    ['no token', input('{"event":"a","distinct_id":"d"}'), bad('SLUICE_ERR_MISSING_TOKEN', 401, 'the request has no api_key or token')],
    ['one event without token', input('[{"event":"a","distinct_id":"d","token":"k"},{"event":"a","distinct_id":"d"}]'), bad('SLUICE_ERR_MISSING_TOKEN', 401, 'event 1 has no api_key or token, and the request has none')],
  ]
  for (const [name, i, expected] of cases) t.same(failure(() => decode(i)), expected, name)
})

t.test('the size limit applies to the decompressed body: a gzip bomb is cut off at the limit with 413', async (t) => {
  const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20))
  t.ok(bomb.length < MAX, 'the compressed body itself is under the limit')
  const tooLarge = bad('SLUICE_ERR_BODY_TOO_LARGE', 413, `the request body is larger than ${MAX} bytes`)
  t.same(failure(() => decode(input(bomb, { contentEncoding: 'gzip' }))), tooLarge, 'Content-Encoding: gzip')
  t.same(failure(() => decode(input(bomb, { q: 'compression=gzip-js' }))), tooLarge, 'compression=gzip-js')
  const b64 = zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20)).toString('base64')
  t.same(failure(() => decode(input('data=' + encodeURIComponent(b64)))), tooLarge, 'gzip inside base64 data')
  t.same(failure(() => decode(input(zlib.gzipSync(JSON.stringify(nodeBatch)), { contentEncoding: 'gzip' }), 100)), bad('SLUICE_ERR_BODY_TOO_LARGE', 413, 'the request body is larger than 100 bytes'), 'a normal body over a small limit')
})

t.test('messages follow DESIGN §4: outer fields, data as the event\'s JSON string, key token:distinct_id', async (t) => {
  const batch = decode(input(JSON.stringify(nodeBatch)))
  const messages = captureMessages(batch, { ip: '203.0.113.9', siteUrl: 'http://capture.example', now: '2026-11-20T10:00:02.500Z' }, 1024 * 1024)
  t.same(messages.map((m) => ({ key: m.key, value: JSON.parse(m.value.toString()) })), nodeBatch.batch.map((e) => ({
    key: 'phc_node:u1',
    value: {
      uuid: e.uuid, distinct_id: 'u1', ip: '203.0.113.9', site_url: 'http://capture.example', now: '2026-11-20T10:00:02.500Z',
      sent_at: '2026-11-20T10:00:02.000Z', token: 'phc_node', data: JSON.stringify(e),
    },
  })))
})

t.test('an event whose message would exceed the message limit rejects the whole request with 413', async (t) => {
  const body = { api_key: 'k', batch: [{ event: 'small', distinct_id: 'd' }, { event: 'big', distinct_id: 'd', properties: { blob: 'x'.repeat(5000) } }] }
  const batch = decode(input(JSON.stringify(body)))
  t.same(failure(() => captureMessages(batch, { ip: null, siteUrl: '', now: '2026-11-20T10:00:00Z' }, 4096)), bad('SLUICE_ERR_EVENT_TOO_LARGE', 413, 'event 1 is larger than SLUICE_MAX_MESSAGE_BYTES (4096 bytes) once encoded for Kafka'))
})

t.test('nesting deeper than 64 levels is a 400 naming the limit, checked before parsing; brackets inside strings do not count', async (t) => {
  const nested = (levels: number) => '{"event":"e","distinct_id":"d","api_key":"k","properties":{"x":' + '['.repeat(levels) + ']'.repeat(levels) + '}}'
  // the request is level 1, properties level 2: 62 arrays make 64 levels
  t.equal(decode(input(nested(62))).events.length, 1, '64 levels are accepted')
  const tooDeep = bad('SLUICE_ERR_JSON_TOO_DEEP', 400, 'the request nests objects and arrays more than 64 levels deep')
  t.same(failure(() => decode(input(nested(63)))), tooDeep, '65 levels are not')
  t.same(failure(() => decode(input(nested(5000)))), tooDeep, '5,000 levels: a 400, not a RangeError')
  t.same(failure(() => decode(input(zlib.gzipSync(nested(100_000)), { contentEncoding: 'gzip' }), 4 << 20)), tooDeep, 'gzipped too')
  t.same(failure(() => decode(input(`data=${encodeURIComponent(Buffer.from(nested(1000)).toString('base64'))}`, { contentType: 'application/x-www-form-urlencoded' }))), tooDeep, 'form-encoded base64 too')
  const inString = '{"event":"e","distinct_id":"d","api_key":"k","properties":{"s":"' + '[{'.repeat(5000) + '\\"]"}}'
  t.equal(decode(input(inString)).events.length, 1, 'brackets and escaped quotes inside a string are text')
})

// Issue 15 rule 5, PostHog's Rust capture (rust/common/types RawEvent::extract_distinct_id)
const DISTINCT_IDS: [string, unknown, string | undefined][] = [
  ['kept as sent', 'user-1', 'user-1'],
  ['a number is stringified', 42, '42'],
  ['200 characters kept', 'a'.repeat(200), 'a'.repeat(200)],
  ['201 characters cut to 200', 'a'.repeat(201), 'a'.repeat(200)],
  ['cut by characters, not UTF-16 units', '😀'.repeat(250), '😀'.repeat(200)],
  ['200 characters of 2 bytes are kept: cut only over 200 bytes, to 200 characters', 'é'.repeat(200), 'é'.repeat(200)],
  ['NUL becomes U+FFFD', 'a\u0000b', 'a\ufffdb'],
  ['empty: refused', '', undefined],
  ['whitespace only: refused', '  \t ', undefined],
]

t.test('distinct_id as PostHog\'s capture extracts it: cut to 200 characters, empty or blank refused with 400', async (t) => {
  for (const [name, id, expected] of DISTINCT_IDS) {
    const body = JSON.stringify({ event: 'x', distinct_id: id, api_key: 'k' })
    if (expected === undefined) t.same(failure(() => decode(input(body))), bad('SLUICE_ERR_INVALID_EVENT', 400, 'the event has no distinct_id'), name)
    else t.same(decode(input(body)).events.map((e) => e.distinctId), [expected], name)
  }
})
