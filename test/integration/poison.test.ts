// Issue 22's attacks, as regression tests against the public capture port
// and straight to Kafka, on both stores: chDB (ClickHouse 26.7, which shows a
// current server's behaviour) and Debian's clickhouse-server 18.16.
//   1. a lone UTF-16 surrogate in distinct_id (`"\ud800x"`): stored with
//      U+FFFD, and events after it are stored (26.7 used to reject the insert
//      for ever: /readyz 503, nothing stored any more);
//   2. one request of 150 events in 150 different months: all stored (26.7
//      refuses one insert block over 100 partitions);
//   3. a body nesting 5,000 levels: 400 SLUICE_ERR_JSON_TOO_DEEP, not a 500.
// Plus a worker thread that exits in the middle of a batch (the test-only
// trigger): the batch is retried, nothing is lost or doubled, the thread is
// replaced and counted.
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { openChdb } from '../../engine/sink/transport/chdb'
import { connectClickHouseServer } from '../../engine/sink/transport/clickhouse'
import type { ClickHouseStore } from '../../engine/sink/transport/store'
import { eventually, type EngineProcess } from '../harness/engine-process'
import { startStackOn } from '../harness/stack'
import { capturedMessage } from '../harness/events'

const DB = 'poison'
const TOPIC = 'events_plugin_ingestion'

async function capture(engine: EngineProcess, body: string): Promise<{ status: number; body: any }> {
  const res = await fetch(engine.captureUrl + '/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  return { status: res.status, body: await res.json() }
}

const inserted = (engine: EngineProcess) => engine.metric(`sluice_events_inserted_total{table="${DB}.events"}`)
const deadLetters = async (engine: EngineProcess) => {
  let n = 0
  for (const reason of ['invalid_json', 'invalid_data', 'invalid_uuid', 'message_too_large', 'processing_error', 'insert_rejected']) n += await engine.metric(`sluice_dead_letters_total{reason="${reason}"}`)
  return n
}

for (const mode of ['chdb', 'server'] as const) {
  t.test(`${mode === 'chdb' ? 'chDB (ClickHouse 26.7)' : 'clickhouse-server 18.16'}: no input stalls a partition`, async (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-poison-'))
    const exitFile = path.join(tmp, 'exit-worker')
    const stack = await startStackOn(mode, { database: DB })
    const { kafka, ch, producer } = stack
    const engine = await stack.start({ SLUICE_LOG_LEVEL: 'warn', SLUICE_TEST_WORKER_EXIT_FILE: exitFile })
    t.teardown(async () => {
      await stack.close('SIGKILL')
      fs.rmSync(tmp, { recursive: true, force: true })
    })
    const token: string = (await engine.api('POST', '/api/projects', { name: 'Target' })).body.environments[0].api_token
    let expected = 0

    // 1. lone surrogates, through capture (as JSON text escapes) and straight to Kafka
    const lone = await capture(engine, `{"api_key":"${token}","batch":[{"event":"lone","distinct_id":"\\ud800x","properties":{"k\\udfff":"v\\ud800","$groups":{"org":"\\udc00"}}}]}`)
    t.same(lone, { status: 200, body: { status: 1 } }, 'capture accepts the lone surrogate')
    const uuid = randomUUID()
    await producer.send(TOPIC, [JSON.stringify({ uuid, token, now: new Date().toISOString(), data: `{"event":"lone-kafka","uuid":"${uuid}","distinct_id":"\\ud800y","properties":{"\\udbff":1}}` })])
    t.same(await capture(engine, JSON.stringify({ api_key: token, batch: [{ event: 'sentinel', distinct_id: 'after-lone' }] })), { status: 200, body: { status: 1 } })
    expected += 3
    t.ok(await eventually(async () => (await inserted(engine)) >= expected, 60_000), 'the lone-surrogate events and the sentinel after them are stored')
    t.equal((await fetch(engine.adminUrl + '/readyz')).status, 200, '/readyz stays 200')

    // 2. one request, 150 events in 150 months
    const months = Array.from({ length: 150 }, (_, i) => ({ event: 'backfill', distinct_id: `b${i}`, timestamp: new Date(Date.UTC(2012, i, 15, 12)).toISOString(), uuid: randomUUID() }))
    t.equal((await capture(engine, JSON.stringify({ api_key: token, batch: months }))).status, 200, '150 months in one request are accepted')
    t.same(await capture(engine, JSON.stringify({ api_key: token, batch: [{ event: 'sentinel', distinct_id: 'after-backfill' }] })), { status: 200, body: { status: 1 } })
    expected += 151
    t.ok(await eventually(async () => (await inserted(engine)) >= expected, 60_000), 'all 150 are stored (not dead-lettered), and the sentinel after them')
    t.equal((await fetch(engine.adminUrl + '/readyz')).status, 200, '/readyz stays 200')

    // 3. nesting 5,000 levels deep
    const deep = await capture(engine, `{"api_key":"${token}","event":"deep","distinct_id":"d","properties":{"x":${'['.repeat(5000)}${']'.repeat(5000)}}}`)
    t.equal(deep.status, 400, 'a 400, not a 500')
    t.equal(deep.body.error.code, 'SLUICE_ERR_JSON_TOO_DEEP', 'with a code that names the problem')

    // 4. a worker thread exits halfway through a task
    fs.writeFileSync(exitFile, '')
    const N = 400
    await producer.send(TOPIC, Array.from({ length: N }, (_, i) => capturedMessage({ token, distinct_id: `w${i}`, event: 'after-death' })), () => randomUUID())
    expected += N
    t.ok(await eventually(async () => (await inserted(engine)) >= expected, 60_000), 'the batch was retried: every event is stored')
    t.notOk(fs.existsSync(exitFile), 'a worker took the trigger')
    t.equal(await engine.metric('sluice_worker_threads_replaced_total'), 1, 'the dead thread was replaced, and counted')
    t.equal(await engine.metric('sluice_worker_threads'), 1, 'the pool is back to its size')

    t.ok(await eventually(async () => (await engine.metric('sluice_offsets_committed_messages_total')) === expected, 30_000), 'every consumed message was committed: the offsets moved on')
    t.equal(await engine.metric('sluice_messages_consumed_total'), expected, 'consumed')
    t.equal(await deadLetters(engine), 0, 'nothing was dead-lettered')
    t.equal(await inserted(engine), expected, 'stored exactly once each')
    t.equal(engine.child.exitCode, null, 'the process is up')

    // what ClickHouse holds (chDB belongs to the engine's process until it stops)
    t.equal(await engine.stop('SIGTERM'), 0, 'SIGTERM exits 0')
    const store: ClickHouseStore = ch ? await connectClickHouseServer({ url: ch.url }) : await openChdb(stack.chdbDir!)
    try {
      const ids = await store.query<{ event: string; distinct_id: string; properties: string; g: string }>(`SELECT event, distinct_id, properties, \`$group_0\` AS g FROM ${DB}.events WHERE event IN ('lone', 'lone-kafka') ORDER BY event`)
      t.same(ids.map((r) => [r.event, r.distinct_id]), [['lone', '\ufffdx'], ['lone-kafka', '\ufffdy']], 'lone surrogates are stored as U+FFFD')
      t.has(JSON.parse(ids[0].properties), { 'k\ufffd': 'v\ufffd', $groups: { org: '\ufffd' } }, 'in properties too')
      t.equal(ids[0].g, '\ufffd', 'and in group keys')
      const backfill = await store.query<{ n: string; months: string }>(`SELECT count() AS n, uniqExact(toYYYYMM(timestamp)) AS months FROM ${DB}.events WHERE event = 'backfill'`)
      t.same(backfill.map((r) => [Number(r.n), Number(r.months)]), [[150, 150]], '150 rows in 150 month partitions')
      const death = await store.query<{ n: string; u: string }>(`SELECT count() AS n, uniqExact(uuid) AS u FROM ${DB}.events WHERE event = 'after-death'`)
      t.same(death.map((r) => [Number(r.n), Number(r.u)]), [[N, N]], 'after the worker died: nothing lost, nothing doubled')
    } finally {
      await store.close()
    }
  })
}
