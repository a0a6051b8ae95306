// The capture port end to end on real components: the official posthog-node
// SDK (and hand-made requests in every encoding posthog-js uses) → Sluice's
// capture port → the mock Kafka cluster → ingestion → a private Debian
// clickhouse-server 18.16. Rejected requests must leave the input topic
// untouched: checked by the topic's high watermarks and the engine's metrics.
import t from 'tap'
import zlib from 'node:zlib'
import { randomUUID } from 'node:crypto'
import { PostHog } from 'posthog-node'
import { eventually, type EngineProcess } from '../harness/engine-process'
import { startStack, type Stack } from '../harness/stack'
import { highWatermarks } from '../harness/kafka'

const TOPIC = 'events_plugin_ingestion'
const DB = 'sluice_capture'
const PARTITIONS = [0, 1, 2, 3] // the mock cluster auto-creates 4

let stack: Stack
let engine: EngineProcess
let token: string
let teamId: number

t.before(async () => {
  stack = await startStack({ database: DB })
  engine = await stack.start({ SLUICE_KAFKA_GROUP: 'sluice-capture-test', SLUICE_TRUST_PROXY: 'true' })
  const created = await engine.api('POST', '/api/projects', { name: 'Captured' })
  token = created.body.environments[0].api_token
  teamId = created.body.environments[0].id
})

// without a broker (last test) a clean drain cannot finish: close() kills the engine then
t.teardown(() => stack?.close())

interface Row { uuid: string; event: string; distinct_id: string; properties: string; ts: string; team_id: string; project_id: string }

async function rows(where: string): Promise<Row[]> {
  return stack.store.query<Row>(`SELECT toString(uuid) AS uuid, event, distinct_id, properties, toUnixTimestamp(timestamp) AS ts, team_id, project_id FROM ${DB}.events FINAL WHERE ${where} ORDER BY distinct_id, event`)
}

/** waits until `n` rows match, then returns them */
async function landed(where: string, n: number): Promise<Row[]> {
  const r = await eventually(async () => {
    const got = await rows(where)
    return got.length >= n ? got : undefined
  }, 60_000)
  return r ?? rows(where)
}

async function topicSize(): Promise<number> {
  const high = await highWatermarks(stack.kafka.bootstrapServers, TOPIC, PARTITIONS)
  return [...high.values()].reduce((a, b) => a + b, 0)
}

t.test('posthog-node capture, identify and groupIdentify land in ClickHouse under the environment, intact', async (t) => {
  const errors: unknown[] = []
  const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * 86400_000) // two days ago, whole seconds (18.16 stores seconds)
  const gzipped = new PostHog(token, { host: engine.captureUrl, flushAt: 1, flushInterval: 0 })
  gzipped.on('error', (err) => errors.push(err))
  gzipped.capture({ distinctId: 'node-user', event: 'signed up', properties: { plan: 'pro', seats: 3, nested: { a: [1, 2] } }, timestamp: at })
  gzipped.identify({ distinctId: 'node-user', properties: { $set: { email: 'node@example.com' }, $set_once: { first_seen: 'x' } } })
  gzipped.groupIdentify({ groupType: 'company', groupKey: 'acme', properties: { name: 'Acme', employees: 50 } })
  await gzipped.shutdown()
  // the same SDK without compression sends plain JSON
  const plain = new PostHog(token, { host: engine.captureUrl, flushAt: 1, flushInterval: 0, disableCompression: true })
  plain.on('error', (err) => errors.push(err))
  plain.capture({ distinctId: 'node-plain', event: 'plain sent', properties: { ok: true } })
  await plain.shutdown()
  t.same(errors, [], 'the SDK saw no error: every send was answered as a success')

  const got = await landed(`distinct_id IN ('node-user', '$company_acme', 'node-plain')`, 4)
  t.same(got.map((r) => [r.event, r.distinct_id, Number(r.team_id), Number(r.project_id)]), [
    ['$groupidentify', '$company_acme', teamId, teamId],
    ['plain sent', 'node-plain', teamId, teamId],
    ['$identify', 'node-user', teamId, teamId],
    ['signed up', 'node-user', teamId, teamId],
  ])
  const [group, , identify, signedUp] = got.map((r) => ({ ...r, props: JSON.parse(r.properties) }))
  t.match(signedUp.props, { plan: 'pro', seats: 3, nested: { a: [1, 2] }, $lib: 'posthog-node', $ip: '127.0.0.1' }, 'properties intact, $ip from the connection')
  t.ok(Math.abs(Number(signedUp.ts) - at.getTime() / 1000) <= 1, `timestamp kept: ${new Date(Number(signedUp.ts) * 1000).toISOString()} vs ${at.toISOString()}`)
  t.match(identify.props, { $set: { email: 'node@example.com' }, $set_once: { first_seen: 'x' } })
  t.match(group.props, { $group_type: 'company', $group_key: 'acme', $group_set: { name: 'Acme', employees: 50 } })
  // the group itself, in this environment, under the project's index for "company"
  const types = await engine.api('GET', `/api/projects/${teamId}/group_types`)
  t.same(types.body, { results: [{ group_type: 'company', group_type_index: 0 }], next: null }, 'the group type got index 0 in the project')
  const groupRows = await eventually(async () => {
    const r = await stack.store.query<{ team_id: string; group_type_index: number; group_properties: string }>(`SELECT team_id, group_type_index, group_properties FROM ${DB}.groups FINAL WHERE group_key = 'acme'`)
    return r.length > 0 ? r : undefined
  }, 30_000)
  t.same(groupRows?.map((r) => [Number(r.team_id), Number(r.group_type_index), JSON.parse(r.group_properties)]), [[teamId, 0, { name: 'Acme', employees: 50 }]])
  t.equal(await engine.metric('sluice_capture_events_total'), 4)
})

const sentMs = () => String(Date.now())

t.test('every encoding PostHog SDKs use is accepted on every capture path, answered {"status":1} with CORS', async (t) => {
  const run = randomUUID().slice(0, 8)
  const ev = (name: string, extra: Record<string, unknown> = {}) => ({ event: 'enc', distinct_id: `${run}-${name}`, properties: { encoding: name }, ...extra })
  const jsEvent = (name: string) => ({ event: 'enc', properties: { token, distinct_id: `${run}-${name}`, encoding: name }, timestamp: new Date().toISOString() })
  const requests: { name: string; path: string; init: RequestInit; events: number }[] = [
    { name: 'single', path: '/capture/', init: { body: JSON.stringify({ ...ev('single'), api_key: token }), headers: { 'content-type': 'application/json' } }, events: 1 },
    { name: 'batch', path: '/batch', init: { body: JSON.stringify({ api_key: token, batch: [ev('batch'), ev('batch', { event: 'enc2' })], sent_at: new Date().toISOString() }) }, events: 2 },
    { name: 'array', path: '/e/', init: { body: JSON.stringify([jsEvent('array')]) }, events: 1 },
    { name: 'gzip', path: '/batch/', init: { body: zlib.gzipSync(JSON.stringify({ api_key: token, batch: [ev('gzip')] })), headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' } }, events: 1 },
    { name: 'gzip-js', path: `/e/?compression=gzip-js&_=${sentMs()}&ver=1.300.0`, init: { body: zlib.gzipSync(JSON.stringify([jsEvent('gzip-js')])), headers: { 'content-type': 'text/plain' } }, events: 1 },
    { name: 'base64', path: `/e/?compression=base64&_=${sentMs()}`, init: { body: 'data=' + encodeURIComponent(Buffer.from(JSON.stringify([jsEvent('base64')])).toString('base64')), headers: { 'content-type': 'application/x-www-form-urlencoded' } }, events: 1 },
    { name: 'i-v0', path: '/i/v0/e/', init: { body: JSON.stringify({ ...ev('i-v0'), token }) }, events: 1 },
    { name: 'track', path: '/track', init: { body: JSON.stringify({ ...ev('track'), token }) }, events: 1 },
    { name: 'forwarded', path: '/e', init: { body: JSON.stringify({ ...ev('forwarded'), token }), headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' } }, events: 1 },
  ]
  const before = await engine.metric('sluice_capture_events_total')
  for (const r of requests) {
    const res = await fetch(engine.captureUrl + r.path, { method: 'POST', ...r.init, headers: { origin: 'https://shop.example', ...(r.init.headers as Record<string, string>) } })
    t.same({ status: res.status, body: await res.json(), cors: res.headers.get('access-control-allow-origin') }, { status: 200, body: { status: 1 }, cors: 'https://shop.example' }, r.name)
  }
  const get = await fetch(`${engine.captureUrl}/e/?data=${encodeURIComponent(Buffer.from(JSON.stringify(jsEvent('get'))).toString('base64'))}`)
  t.same({ status: get.status, body: await get.json(), cors: get.headers.get('access-control-allow-origin') }, { status: 200, body: { status: 1 }, cors: '*' }, 'GET ?data=')
  const expected = requests.reduce((n, r) => n + r.events, 0) + 1
  t.equal(await engine.metric('sluice_capture_events_total') - before, expected, 'every event counted once')

  const got = await landed(`distinct_id LIKE '${run}-%'`, expected)
  t.same(got.map((r) => [r.distinct_id, r.event, Number(r.team_id), JSON.parse(r.properties).encoding]), [
    ...['array', 'base64'].map((n) => [`${run}-${n}`, 'enc', teamId, n]),
    [`${run}-batch`, 'enc', teamId, 'batch'], [`${run}-batch`, 'enc2', teamId, 'batch'],
    ...['forwarded', 'get', 'gzip', 'gzip-js', 'i-v0', 'single', 'track'].map((n) => [`${run}-${n}`, 'enc', teamId, n]),
  ])
  t.equal(JSON.parse(got.find((r) => r.distinct_id === `${run}-forwarded`)!.properties).$ip, '203.0.113.7', 'with SLUICE_TRUST_PROXY the first X-Forwarded-For entry is the client IP')
})

t.test('rejected requests answer JSON errors with their status and produce nothing', async (t) => {
  const sizeBefore = await topicSize()
  const eventsBefore = await engine.metric('sluice_capture_events_total')
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}, method = 'POST') => fetch(engine.captureUrl + path, { method, body, headers: { origin: 'https://shop.example', ...headers } })
  // a gzip bomb: ~20 KB on the wire, 50 MiB decompressed (SLUICE_MAX_BODY_BYTES is 1 MiB)
  const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20))
  const valid = { event: 'ok', distinct_id: 'would-be-valid' }
  const cases: [string, Promise<Response>, number, string][] = [
    ['invalid JSON', post('/e/', '{"event":'), 400, 'SLUICE_ERR_INVALID_JSON'],
    ['bad gzip', post('/batch/', 'plainly not gzip', { 'content-encoding': 'gzip' }), 400, 'SLUICE_ERR_INVALID_ENCODING'],
    ['bad base64', post('/e/', 'data=@@@not*base64', { 'content-type': 'application/x-www-form-urlencoded' }), 400, 'SLUICE_ERR_INVALID_ENCODING'],
    ['missing token', post('/batch/', JSON.stringify({ batch: [valid] })), 401, 'SLUICE_ERR_MISSING_TOKEN'],
    ['one event without distinct_id', post('/batch/', JSON.stringify({ api_key: token, batch: [valid, { event: 'no id' }] })), 400, 'SLUICE_ERR_INVALID_EVENT'],
    ['one event without a name', post('/batch/', JSON.stringify({ api_key: token, batch: [valid, { distinct_id: 'x' }] })), 400, 'SLUICE_ERR_INVALID_EVENT'],
    ['body too large', post('/batch/', JSON.stringify({ api_key: token, batch: [{ ...valid, properties: { blob: 'x'.repeat(2 * 1024 * 1024) } }] })), 413, 'SLUICE_ERR_BODY_TOO_LARGE'],
    ['gzip bomb', post('/batch/', bomb, { 'content-encoding': 'gzip' }), 413, 'SLUICE_ERR_BODY_TOO_LARGE'],
    ['gzip-js bomb', post('/e/?compression=gzip-js', bomb, { 'content-type': 'text/plain' }), 413, 'SLUICE_ERR_BODY_TOO_LARGE'],
    ['unknown path', post('/nope', JSON.stringify({ ...valid, token })), 404, 'SLUICE_ERR_ROUTE_NOT_FOUND'],
    ['wrong method', post('/e/', JSON.stringify({ ...valid, token }), {}, 'PUT'), 405, 'SLUICE_ERR_METHOD_NOT_ALLOWED'],
  ]
  for (const [name, pending, status, code] of cases) {
    const res = await pending
    const body = (await res.json()) as { error: { code: string; message: string } }
    t.same({ status: res.status, code: body.error.code, cors: res.headers.get('access-control-allow-origin') }, { status, code, cors: 'https://shop.example' }, `${name}: ${body.error.message}`)
  }
  t.equal(await topicSize(), sizeBefore, 'the input topic did not grow')
  t.equal(await engine.metric('sluice_capture_events_total'), eventsBefore, 'no event accepted')
  t.equal(await engine.metric('sluice_capture_requests_total{status="400"}'), 5)
  t.equal(await engine.metric('sluice_capture_requests_total{status="401"}'), 1)
  t.equal(await engine.metric('sluice_capture_requests_total{status="413"}'), 3)
})

t.test('a CORS preflight from another origin is allowed, with credentials', async (t) => {
  const res = await fetch(engine.captureUrl + '/e/?compression=gzip-js', {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  })
  t.same({
    status: res.status,
    origin: res.headers.get('access-control-allow-origin'),
    credentials: res.headers.get('access-control-allow-credentials'),
    methods: res.headers.get('access-control-allow-methods'),
    headers: res.headers.get('access-control-allow-headers'),
    vary: res.headers.get('vary'),
  }, { status: 204, origin: 'https://shop.example', credentials: 'true', methods: 'GET, POST, OPTIONS', headers: 'content-type', vary: 'Origin' })
})

// Last: it takes the broker away for good.
t.test('when Kafka does not acknowledge, the request is answered 503 and not counted as accepted', async (t) => {
  const accepted = await engine.metric('sluice_capture_events_total')
  await stack.stopKafka()
  const res = await fetch(engine.captureUrl + '/batch/', { method: 'POST', body: JSON.stringify({ api_key: token, batch: [{ event: 'lost?', distinct_id: 'no-broker' }] }) })
  const body = (await res.json()) as { error: { code: string; message: string } }
  t.same({ status: res.status, code: body.error.code }, { status: 503, code: 'SLUICE_ERR_CAPTURE_UNAVAILABLE' }, body.error.message)
  t.equal(await engine.metric('sluice_capture_events_total'), accepted)
  t.equal(await engine.metric('sluice_capture_requests_total{status="503"}'), 1)
})
