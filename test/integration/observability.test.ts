// Observability end to end, on real components: the mock Kafka cluster, a
// private clickhouse-server 18.16 and Sluice as its own process. After a run
// with a known mix of messages, /metrics alone tells how many arrived, how
// many were stored, dropped (why) or dead-lettered (why), how far behind each
// partition is and how long inserts took; /readyz follows the ClickHouse
// server going away and coming back while /healthz stays up; the logs are
// JSON, one line per notable event, at the level SLUICE_LOG_LEVEL asks.
// Group updates ($groupidentify, re-keyed to SLUICE_GROUPS_TOPIC) have their
// own lag gauges and their own consumer in both health checks.
import fs from 'node:fs'
import t from 'tap'
import { startStack, type Stack } from '../harness/stack'
import { eventually, startEngineProcess, type EngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'

const TOPIC = 'events_plugin_ingestion'
const DB = 'sluice_obs'
const GROUP = 'sluice-obs'
const EVENTS_TABLE = `${DB}.events`
const PARTITIONS = [0, 1, 2, 3] // the mock cluster auto-creates 4

const VALID = 600
const UNKNOWN_TOKEN = 60
const NO_TOKEN = 25
const NOT_JSON = 15
const CAPTURED = 10
const DURING_OUTAGE = 30
// of the VALID and DURING_OUTAGE events, how many are $groupidentify (each one group update)
const GROUP_UPDATES = 20
const GROUP_UPDATES_DURING_OUTAGE = 6

let stack: Stack
let engine: EngineProcess
let token: string

t.before(async () => {
  stack = await startStack({ database: DB })
  engine = await stack.start({
    SLUICE_KAFKA_GROUP: GROUP, SLUICE_LOG_LEVEL: 'info',
    // this file watches the insert path meet a ClickHouse outage; with persons on, the person reads of
    // each batch meet it first (README "Persons") and the batch waits there, before any insert
    SLUICE_PERSONS: 'off',
  })
  const created = await engine.api('POST', '/api/projects', { name: 'Observed' })
  token = created.body.environments[0].api_token
})

t.teardown(async () => {
  if (process.env.SLUICE_TEST_SHOW_LOGS) console.error(engine?.logs())
  await stack?.close()
})

/** One scrape of /metrics: `name{labels}` → value, exactly as exposed. */
async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(engine.adminUrl + '/metrics')).text()
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const cut = line.lastIndexOf(' ')
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)))
  }
  return samples
}

/** Sum of every series of one metric (all label values). */
function total(samples: Map<string, number>, name: string): number {
  let sum = 0
  for (const [k, v] of samples) if (k === name || k.startsWith(name + '{')) sum += v
  return sum
}

/** label value → sample value, for a metric with one label */
function byLabel(samples: Map<string, number>, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {}
  const re = new RegExp(`^${name}\\{${label}="([^"]*)"\\}$`)
  for (const [k, v] of samples) {
    const m = re.exec(k)
    if (m) out[m[1]] = v
  }
  return out
}

/** Cumulative buckets never decrease and end at _count. */
function histogramConsistent(samples: Map<string, number>, name: string): boolean {
  const buckets = [...samples].filter(([k]) => k.startsWith(`${name}_bucket{`)).map(([, v]) => v)
  return buckets.length > 1 && buckets.every((v, i) => i === 0 || v >= buckets[i - 1]) && buckets[buckets.length - 1] === samples.get(`${name}_count`)
}

async function health(path: '/healthz' | '/readyz'): Promise<{ status: number; body: any }> {
  const res = await fetch(engine.adminUrl + path)
  return { status: res.status, body: await res.json() }
}

const lagSeries = (samples: Map<string, number>) => byLabel(samples, 'sluice_consumer_lag_messages', 'partition')
const groupLagSeries = (samples: Map<string, number>) => byLabel(samples, 'sluice_group_updates_lag_messages', 'partition')

/** A `$groupidentify` of company `key` (one group update on SLUICE_GROUPS_TOPIC). */
const groupIdentify = (key: string, i: number) => capturedMessage({
  token, distinct_id: `gu-${i}`, event: '$groupidentify', properties: { $group_type: 'company', $group_key: key, $group_set: { i } },
})

t.test('after a run the metrics add up to the produced messages by outcome', async (t) => {
  const messages: string[] = []
  for (let i = 0; i < VALID - GROUP_UPDATES; i++) messages.push(capturedMessage({ token, distinct_id: `u-${i % 40}`, event: 'viewed', properties: { i } }))
  for (let i = 0; i < GROUP_UPDATES; i++) messages.push(groupIdentify(`g-${i}`, i))
  for (let i = 0; i < UNKNOWN_TOKEN; i++) messages.push(capturedMessage({ token: 'phc_not_a_known_token_000', distinct_id: 'x' }))
  for (let i = 0; i < NO_TOKEN; i++) messages.push(capturedMessage({ distinct_id: 'nobody' }))
  for (let i = 0; i < NOT_JSON; i++) messages.push(`not json ${i} {`)
  await stack.producer.send(TOPIC, messages, (i) => `k${i % 97}`)
  const captured = await fetch(engine.captureUrl + '/batch/', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: token, batch: Array.from({ length: CAPTURED }, (_, i) => ({ event: 'captured', distinct_id: `c-${i}`, properties: {} })) }),
  })
  t.equal(captured.status, 200, 'the capture request is accepted')
  const produced = messages.length + CAPTURED

  const settled = await eventually(async () => (await engine.metric('sluice_offsets_committed_messages_total')) >= produced, 60_000)
  t.ok(settled, 'every message settled and committed')
  const m = await scrape()

  // arrived = stored + dropped (by reason) + dead-lettered (by reason)
  t.equal(m.get('sluice_messages_consumed_total'), produced, 'arrived')
  t.equal(m.get(`sluice_events_inserted_total{table="${EVENTS_TABLE}"}`), VALID + CAPTURED, 'stored')
  t.same(byLabel(m, 'sluice_events_dropped_total', 'reason'), { invalid_token: UNKNOWN_TOKEN, no_token: NO_TOKEN }, 'dropped, by reason')
  t.same(byLabel(m, 'sluice_dead_letters_total', 'reason'), { invalid_json: NOT_JSON }, 'dead-lettered, by reason')
  t.equal(
    m.get(`sluice_events_inserted_total{table="${EVENTS_TABLE}"}`)! + total(m, 'sluice_events_dropped_total') + total(m, 'sluice_dead_letters_total'),
    m.get('sluice_messages_consumed_total'),
    'the outcomes add up to the arrivals',
  )
  t.equal(m.get('sluice_offsets_committed_messages_total'), produced, 'committed')
  t.equal(m.get('sluice_capture_requests_total{status="200"}'), 1, 'capture requests by status')
  t.equal(m.get('sluice_capture_events_total'), CAPTURED, 'captured events')

  // lag histograms count every consumed message once
  for (const name of ['sluice_event_lag_seconds', 'sluice_processing_lag_seconds']) {
    t.equal(m.get(`${name}_count`), produced, `${name} counts every message`)
    t.ok(histogramConsistent(m, name), `${name} buckets are cumulative up to the count`)
  }
  // durations and sizes
  t.ok(m.get(`sluice_insert_duration_seconds_count{table="${EVENTS_TABLE}"}`)! >= 1, 'insert durations observed')
  t.ok(histogramConsistent(m, 'sluice_insert_rows'), 'rows per insert')
  t.equal(m.get('sluice_batch_messages_sum'), produced, 'messages per task add up to the arrivals')
  t.ok(m.get('sluice_worker_task_seconds_count')! >= 1, 'worker-measured task times arrived in the main registry')
  t.equal(m.get('sluice_worker_task_seconds_count'), m.get('sluice_task_duration_seconds_count'), 'one worker timing per answered task')
  t.equal(m.get('sluice_worker_threads'), 1, 'worker threads')
  t.ok(m.get('sluice_process_resident_memory_bytes')! > 0, 'default process metrics, prefixed')
  t.ok(m.has('sluice_nodejs_heap_size_used_bytes'), 'heap used')
  // CPU by kind of thread: the worker's OS thread id came with its answers
  const threads = byLabel(m, 'sluice_thread_cpu_seconds', 'threads')
  t.same(Object.keys(threads).sort(), ['kafka', 'main', 'runtime', 'workers'], 'CPU by kind of thread')
  t.ok(threads.main > 0 && threads.workers > 0, 'the main thread and the worker used CPU')
  // the process's own total since it started (/proc, read after the scrape; prom-client's process CPU counts only from its start-up)
  const cpu = Object.values(threads).reduce((a, b) => a + b, 0)
  const stat = fs.readFileSync(`/proc/${engine.child.pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const processCpu = (Number(fields[11]) + Number(fields[12])) / 100
  t.ok(cpu <= processCpu + 0.02, `the kinds add up to at most the process's CPU (${cpu.toFixed(2)} of ${processCpu.toFixed(2)} s)`)

  // a script polling one counter asks for it alone
  const named = await (await fetch(engine.adminUrl + '/metrics?name=sluice_messages_consumed_total&name=sluice_no_such_metric')).text()
  const lines = named.split('\n').filter((l) => l !== '' && !l.startsWith('#'))
  t.same(lines, [`sluice_messages_consumed_total ${produced}`], '/metrics?name=: only the named metric, unknown names left out')
})

t.test('lag gauges: one per owned partition, back to 0 once caught up; control log caught up; nothing in flight', async (t) => {
  const caughtUp = await eventually(async () => {
    const m = await scrape()
    const lag = lagSeries(m)
    return Object.keys(lag).length === PARTITIONS.length && Object.values(lag).every((v) => v === 0)
      && m.get('sluice_control_log_lag_messages') === 0 && m.get('sluice_inflight_bytes') === 0 ? m : undefined
  }, 30_000)
  t.ok(caughtUp, 'every partition at lag 0, control log at lag 0, nothing in flight')
  if (!caughtUp) {
    const m = await scrape()
    t.comment(JSON.stringify({ lag: lagSeries(m), groupLag: groupLagSeries(m), control: m.get('sluice_control_log_lag_messages'), inflight: m.get('sluice_inflight_bytes') }))
    return
  }
  t.same(Object.keys(lagSeries(caughtUp)).sort(), PARTITIONS.map(String), 'one series per partition')
  t.equal(caughtUp.get('sluice_consumer_assigned_partitions'), PARTITIONS.length, 'assigned partitions')
  t.ok(caughtUp.get('sluice_control_log_offset')! >= 0, 'control-log offset folded')

  // the update topic: the one instance owns its 4 partitions; every update applied and committed
  const groupsCaughtUp = await eventually(async () => {
    const m = await scrape()
    const lag = groupLagSeries(m)
    return Object.keys(lag).length === PARTITIONS.length && Object.values(lag).every((v) => v === 0) && m.get('sluice_group_updates_applied_total') === GROUP_UPDATES ? m : undefined
  }, 30_000)
  t.ok(groupsCaughtUp, `group-update lag 0 on every update-topic partition once the ${GROUP_UPDATES} updates are applied`)
  if (!groupsCaughtUp) return
  t.same(Object.keys(groupLagSeries(groupsCaughtUp)).sort(), PARTITIONS.map(String), 'one group-update lag series per update-topic partition')
  t.equal(groupsCaughtUp.get('sluice_group_partitions'), PARTITIONS.length, 'update-topic partitions owned')
  t.equal(groupsCaughtUp.get('sluice_group_updates_produced_total'), GROUP_UPDATES, 'updates produced')
})

t.test('/readyz follows the ClickHouse server; /healthz stays up; lag grows while it is away and drains after', async (t) => {
  const ready = await health('/readyz')
  t.equal(ready.status, 200, 'ready')
  t.same(ready.body.failing, [], 'no failing check')
  // group_consumer: the group-update consumer (README "Groups"), added with its lag gauges
  t.same(Object.keys(ready.body.checks).sort(), ['clickhouse', 'consumer', 'control_log', 'group_consumer'], 'the checks it makes')
  t.match(ready.body.checks.group_consumer.detail, /update-topic partitions 0,1,2,3/, 'the group-update consumer owns the update topic')
  const healthy = await health('/healthz')
  t.equal(healthy.status, 200, 'live')
  t.same(Object.keys(healthy.body.checks).sort(), ['consume_loop', 'group_update_loop'], 'both consume loops are checked')
  const storedBefore = await engine.metric(`sluice_events_inserted_total{table="${EVENTS_TABLE}"}`)

  await stack.ch.stop()
  const down = await eventually(async () => {
    const r = await health('/readyz')
    return r.status === 503 ? r : undefined
  }, 30_000)
  t.ok(down, '/readyz answers 503 once the server is gone')
  t.same(down?.body.failing, ['clickhouse'], 'the failing check is named')
  t.equal(down?.body.checks.clickhouse.ok, false, 'clickhouse check failed')
  t.match(down?.body.checks.clickhouse.detail, /unreachable|failing/, 'with the reason')
  const live = await health('/healthz')
  t.equal(live.status, 200, '/healthz stays 200: a restart would not bring ClickHouse back')
  t.equal(live.body.checks.consume_loop.ok, true, 'the consume loop runs')

  // consumed but not storable: nothing is committed, so the partitions' lag shows exactly these messages;
  // their group updates reach the update topic (Kafka is up) but their owner cannot write them
  const outage = Array.from({ length: DURING_OUTAGE - GROUP_UPDATES_DURING_OUTAGE }, (_, i) => capturedMessage({ token, distinct_id: `o-${i}` }))
  for (let i = 0; i < GROUP_UPDATES_DURING_OUTAGE; i++) outage.push(groupIdentify(`outage-${i}`, i))
  await stack.producer.send(TOPIC, outage, (i) => `o${i}`)
  const lagging = await eventually(async () => {
    const m = await scrape()
    return total(m, 'sluice_consumer_lag_messages') === DURING_OUTAGE && total(m, 'sluice_group_updates_lag_messages') === GROUP_UPDATES_DURING_OUTAGE
  }, 30_000)
  if (!lagging) { const m = await scrape(); t.comment(JSON.stringify({ lag: lagSeries(m), groupLag: groupLagSeries(m) })) }
  t.ok(lagging, `the lag gauges add up to the ${DURING_OUTAGE} messages produced during the outage, the group-update lag to their ${GROUP_UPDATES_DURING_OUTAGE} updates`)
  t.equal((await health('/readyz')).status, 503, 'still not ready')
  const stillLive = await health('/healthz')
  t.equal(stillLive.status, 200, 'still live')
  t.equal(stillLive.body.checks.group_update_loop.ok, true, 'the group-update loop, waiting for ClickHouse, is not called stuck')

  await stack.ch.start()
  const back = await eventually(async () => (await health('/readyz')).status === 200, 60_000)
  t.ok(back, '/readyz answers 200 again once inserts succeed')
  const drained = await eventually(async () => {
    const m = await scrape()
    return m.get(`sluice_events_inserted_total{table="${EVENTS_TABLE}"}`) === storedBefore + DURING_OUTAGE && total(m, 'sluice_consumer_lag_messages') === 0
      && total(m, 'sluice_group_updates_lag_messages') === 0 && m.get('sluice_group_updates_applied_total') === GROUP_UPDATES + GROUP_UPDATES_DURING_OUTAGE ? m : undefined
  }, 60_000)
  t.ok(drained, 'the outage messages are stored, their group updates applied, and both lags are back to 0')
  if (drained) {
    t.ok(total(drained, 'sluice_insert_errors_total') >= 1, 'the failed attempts are counted')
    t.equal(drained.get('sluice_event_lag_seconds_count'), drained.get('sluice_messages_consumed_total'), 'the lag histogram still counts every message once')
    t.same(Object.keys(byLabel(drained, 'sluice_events_dropped_total', 'reason')).sort(), ['invalid_token', 'no_token'], 'a retried insert is never a drop')
  }
})

t.test('logs are JSON lines, one per notable event, none per event at info', async (t) => {
  const lines = engine.logs().split('\n').filter((l) => l.startsWith('{'))
  const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string; time: string; service: string })
  t.ok(records.every((r) => typeof r.level === 'number' && typeof r.msg === 'string' && typeof r.time === 'string' && r.service === 'sluice'), 'every record has level, time, msg and service')
  const messages = new Set(records.map((r) => r.msg))
  for (const msg of ['ClickHouse schema ready', 'control log caught up', 'ingestion consumer started', 'sluice started', 'partitions assigned', 'insert failed, retrying', 'insert succeeded after retries']) {
    t.ok(messages.has(msg), `logged: ${msg}`)
  }
  t.ok(records.filter((r) => r.msg === 'insert failed, retrying').every((r) => r.level === 50), 'failed flushes at error')
  const arrived = VALID + UNKNOWN_TOKEN + NO_TOKEN + NOT_JSON + CAPTURED + DURING_OUTAGE
  const belowWarn = records.filter((r) => r.level <= 30)
  t.ok(belowWarn.length < 40, `${belowWarn.length} info lines for ${arrived} messages: nothing per event`)
})

t.test('SLUICE_LOG_LEVEL=warn silences info lines', async (t) => {
  const quiet = await startEngineProcess(stack.env({
    SLUICE_CLICKHOUSE_DATABASE: `${DB}_quiet`,
    SLUICE_KAFKA_GROUP: `${GROUP}-quiet`,
    SLUICE_KAFKA_TOPIC: 'obs_quiet_events',
    SLUICE_LOG_LEVEL: 'warn',
  }))
  const code = await quiet.stop('SIGTERM')
  t.equal(code, 0, 'it started and stopped cleanly')
  const records = quiet.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string })
  t.same(records.filter((r) => r.level < 40).map((r) => r.msg), [], 'no line below warn (start, assignment and shutdown are info)')
  t.match(quiet.logs(), /Sluice is running\./, 'the start-up text is printed whatever the level')
})
