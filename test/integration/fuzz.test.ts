// Property-based fuzzing (fast-check) of the whole engine, on both stores:
// chDB (ClickHouse 26.7) and Debian's clickhouse-server 18.16. Each run
// generates a batch of adversarial events — Unicode edge cases (lone
// surrogates, NUL, BOM, non-characters, combining runs), control characters,
// huge and non-finite numbers, deep and wide nesting, duplicate keys, very
// long keys and values, wrong types in every field, `$set` / `$groups` /
// `$groupidentify` variants — as JSON text, and sends them through the
// capture port and straight to Kafka, then a sentinel event. Invariants:
//   - the capture port answers 200 or 4xx, never 5xx
//   - the process stays up and /readyz answers 200
//   - the sentinel and everything before it is settled (committed)
//   - consumed = stored + dropped + dead-lettered (by reason)
//   - the engine's memory stays under its bound
// CI runs FUZZ_RUNS (default 10) batches of 150–300 events per store (about
// 4,000 cases in all); `npm run fuzz` runs 200 batches per store. A failing batch prints its seed and is kept in
// test/fuzz-regressions/ (replayed first on every run).
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import t from 'tap'
import { DEAD_LETTER_REASONS, DROP_REASONS } from '../../workers/result'
import { eventually, type EngineProcess } from '../harness/engine-process'
import { startStackOn } from '../harness/stack'
import { rssBytes } from '../harness/oracle'

const DB = 'fuzz'
const TOPIC = 'events_plugin_ingestion'
const RUNS = Number(process.env.FUZZ_RUNS ?? 10)
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31)
/** the engine's whole resident memory (chDB lives in it) */
const MEMORY_BOUND = 1536 * 1024 * 1024
const REGRESSIONS = path.join(__dirname, '..', '..', '..', 'test', 'fuzz-regressions')

// ---- arbitraries: JSON *text*, so that raw numbers and duplicate keys can be written

const edge = fc.constantFrom(
  '\ud800', '\udc00x', 'a\ud83d', '\ude00a', '\ud800\ud800', '\u0000', 'a\u0000b', '\ufeff', '\ufeffBOM', '\uffff', '\ufffe', '\ufdd0', '\u{10ffff}',
  'e' + '\u0301'.repeat(300), '\u202e\u202d', '\\ud800', '\\u0000', '\\', '"', "'", '\n\r\t\b\f\v', '\u0001\u001f\u007f\u0085', '😀', '👩‍👩‍👧‍👦',
  '', ' ', 'x'.repeat(5000), 'k'.repeat(401), '<script>', "'; DROP TABLE events; --", '$groupidentify', '2024-02-30T25:61:00Z',
)
const text = fc.oneof(edge, fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 10 }))
const jsonString = text.map((s) => JSON.stringify(s))
const rawNumber = fc.oneof(
  fc.double().map((n) => (Number.isFinite(n) ? String(n) : 'null')),
  fc.integer().map(String),
  fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '-0', '1e-400', '9007199254740993', '0.1e1'),
)
const keyText = fc.oneof(
  fc.constantFrom('"a"', '"a"', '"$set"', '"$set_once"', '"$unset"', '"$groups"', '"$group_type"', '"$group_key"', '"$group_set"', '"$ip"', '"token"', '"distinct_id"', '"$current_url"', '"$feature/x"', '"created_at"', '"utm_source"', `"${'k'.repeat(300)}"`),
  jsonString,
)
const { value } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, jsonString, rawNumber, fc.constantFrom('true', 'false', 'null'), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }).map((a) => `[${a.join(',')}]`),
  object: fc.array(fc.tuple(keyText, tie('value')), { maxLength: 5 }).map((es) => `{${es.map(([k, v]) => `${k}:${v}`).join(',')}}`),
}))
const deep = fc.integer({ min: 1, max: 3000 }).map((d) => '['.repeat(d) + '{"a":1}' + ']'.repeat(d))
const wide = fc.integer({ min: 50, max: 2000 }).map((n) => '{' + Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',') + '}')
const groups = fc.record({
  $groups: fc.oneof(value, fc.array(fc.tuple(fc.constantFrom('"org"', '"company"', '"a"', '"b"', '"c"', '"d"', '"e"', '"f"'), fc.oneof(jsonString, rawNumber, fc.constant(`"${'g'.repeat(401)}"`))), { maxLength: 7 }).map((es) => `{${es.map(([k, v]) => `${k}:${v}`).join(',')}}`)),
  $group_type: fc.oneof(fc.constantFrom('"org"', '"company"'), value),
  $group_key: fc.oneof(jsonString, value),
  $group_set: fc.oneof(value, wide),
}, { requiredKeys: [] })
const properties = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(groups, fc.array(fc.tuple(keyText, fc.oneof(value, deep, wide)), { maxLength: 6 })).map(([g, rest]) => `{${[...Object.entries(g).map(([k, v]) => `"${k}":${v}`), ...rest.map(([k, v]) => `${k}:${v}`)].join(',')}}`) },
  { weight: 1, arbitrary: fc.oneof(value, deep, wide) },
)
const eventText = fc.record({
  event: fc.oneof(fc.constantFrom('"$groupidentify"', '"$pageview"', '"$identify"', '"$set"'), jsonString, value),
  distinct_id: fc.oneof(jsonString, value),
  properties,
  timestamp: fc.oneof(jsonString, rawNumber, fc.integer({ min: -5e12, max: 5e12 }).map((ms) => JSON.stringify(new Date(ms).toISOString())), fc.integer({ min: 0, max: 600 }).map((m) => JSON.stringify(new Date(Date.UTC(1990, m, 1)).toISOString()))),
  uuid: fc.oneof({ weight: 4, arbitrary: fc.uuid().map((u) => `"${u}"`) }, { weight: 1, arbitrary: value }),
  $set: value,
  $set_once: value,
  offset: rawNumber,
  sent_at: fc.oneof(jsonString, fc.constant(JSON.stringify(new Date().toISOString()))),
}, { requiredKeys: ['event', 'distinct_id'] }).map((r) => `{${Object.entries(r).map(([k, v]) => `"${k}":${v}`).join(',')}}`)

/** A Kafka message around an event: a good envelope mostly, a broken one sometimes. */
const kafkaMessage = (token: string) => fc.oneof(
  { weight: 6, arbitrary: fc.tuple(eventText, fc.uuid(), fc.oneof(fc.constant(`"${token}"`), value)).map(([e, uuid, tok]) => `{"uuid":"${uuid}","token":${tok},"now":"${new Date().toISOString()}","ip":"127.0.0.1","data":${JSON.stringify(e)}}`) },
  { weight: 1, arbitrary: fc.tuple(eventText, value).map(([e, outerUuid]) => `{"uuid":${outerUuid},"token":"${token}","distinct_id":${JSON.stringify('o')},"data":${JSON.stringify(e)}}`) },
  { weight: 1, arbitrary: fc.oneof(text, value, eventText) },
)

interface Batch { capture: string[]; kafka: string[] }

async function sendCapture(engine: EngineProcess, token: string, events: string[]): Promise<{ accepted: number; statuses: Map<number, number> }> {
  const statuses = new Map<number, number>()
  let accepted = 0
  for (let i = 0; i < events.length; i += 16) {
    await Promise.all(events.slice(i, i + 16).map(async (e) => {
      const res = await fetch(engine.captureUrl + '/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"api_key":"${token}","batch":[${e}]}` })
      await res.arrayBuffer()
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      if (res.status === 200) accepted++
    }))
  }
  return { accepted, statuses }
}

async function outcomes(engine: EngineProcess): Promise<{ consumed: number; stored: number; dropped: Record<string, number>; dead: Record<string, number> }> {
  const dropped: Record<string, number> = {}
  const dead: Record<string, number> = {}
  for (const r of DROP_REASONS) dropped[r] = await engine.metric(`sluice_events_dropped_total{reason="${r}"}`)
  for (const r of [...DEAD_LETTER_REASONS, 'insert_rejected']) dead[r] = await engine.metric(`sluice_dead_letters_total{reason="${r}"}`)
  return { consumed: await engine.metric('sluice_messages_consumed_total'), stored: await engine.metric(`sluice_events_inserted_total{table="${DB}.events"}`), dropped, dead }
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0)

function regressionExamples(): [Batch][] {
  if (!fs.existsSync(REGRESSIONS)) return []
  return fs.readdirSync(REGRESSIONS).filter((f) => f.endsWith('.json')).map((f) => [JSON.parse(fs.readFileSync(path.join(REGRESSIONS, f), 'utf8')) as Batch])
}

for (const mode of ['chdb', 'server'] as const) {
  t.test(`fuzz against ${mode === 'chdb' ? 'chDB (ClickHouse 26.7)' : 'clickhouse-server 18.16'}: ${RUNS} batches, seed ${SEED}`, async (t) => {
    const stack = await startStackOn(mode, { database: DB })
    const { producer } = stack
    const engine = await stack.start({ SLUICE_LOG_LEVEL: 'error' })
    t.teardown(async () => {
      await stack.close('SIGKILL')
    })
    const token: string = (await engine.api('POST', '/api/projects', { name: 'Fuzz' })).body.environments[0].api_token
    let sent = 0
    let cases = 0
    let maxRss = 0
    const statuses = new Map<number, number>()
    const settleMs: number[] = []

    const property = fc.asyncProperty(
      fc.record({ capture: fc.array(eventText, { minLength: 50, maxLength: 150 }), kafka: fc.array(kafkaMessage(token), { minLength: 100, maxLength: 150 }) }),
      async (batch: Batch) => {
        cases += batch.capture.length + batch.kafka.length
        const c = await sendCapture(engine, token, batch.capture)
        for (const [s, n] of c.statuses) statuses.set(s, (statuses.get(s) ?? 0) + n)
        if ([...c.statuses.keys()].some((s) => s >= 500)) throw new Error(`the capture port answered ${[...c.statuses].join(' ')}`)
        await producer.send(TOPIC, batch.kafka, () => randomUUID())
        const sentinel = randomUUID()
        const started = Date.now()
        const s = await sendCapture(engine, token, [JSON.stringify({ event: 'sentinel', distinct_id: sentinel, uuid: randomUUID() })])
        if (s.accepted !== 1) throw new Error('the sentinel was refused')
        sent += c.accepted + batch.kafka.length + 1
        const settled = await eventually(async () => (await engine.metric('sluice_offsets_committed_messages_total')) === sent, 60_000, 100)
        if (!settled) throw new Error(`not settled: committed ${await engine.metric('sluice_offsets_committed_messages_total')} of ${sent}`)
        settleMs.push(Date.now() - started)
        if (engine.child.exitCode !== null) throw new Error('the engine exited')
        if ((await fetch(engine.adminUrl + '/readyz')).status !== 200) throw new Error('/readyz is not 200')
        const o = await outcomes(engine)
        if (o.consumed !== sent) throw new Error(`consumed ${o.consumed}, sent ${sent}`)
        if (o.stored + sum(o.dropped) + sum(o.dead) !== o.consumed) throw new Error(`stored ${o.stored} + dropped ${sum(o.dropped)} + dead-lettered ${sum(o.dead)} != consumed ${o.consumed}`)
        maxRss = Math.max(maxRss, rssBytes(engine.child.pid!))
        if (maxRss > MEMORY_BOUND) throw new Error(`RSS ${maxRss} over ${MEMORY_BOUND}`)
      },
    )
    const result = await fc.check(property, { numRuns: RUNS, seed: SEED, endOnFailure: true, examples: regressionExamples() })
    if (result.failed && result.counterexample) {
      fs.mkdirSync(REGRESSIONS, { recursive: true })
      const file = path.join(REGRESSIONS, `${mode}-${SEED}.json`)
      fs.writeFileSync(file, JSON.stringify(result.counterexample[0]))
      t.comment(`kept as a regression case: ${file}`)
    }
    t.notOk(result.failed, result.failed ? `seed ${SEED}: ${fc.defaultReportMessage(result)}\n${engine.logs().slice(-3000)}` : `${RUNS} batches passed`)
    const o = await outcomes(engine)
    t.comment(`${mode}: ${cases} cases (${RUNS} batches + ${regressionExamples().length} regression batches), capture answers ${JSON.stringify(Object.fromEntries(statuses))}`)
    t.comment(`${mode}: stored ${o.stored}, dropped ${JSON.stringify(o.dropped)}, dead-lettered ${JSON.stringify(o.dead)}`)
    t.comment(`${mode}: batch settled (sentinel committed) in ${settleMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s; peak RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB`)
    t.equal(o.dead.insert_rejected, 0, 'no insert was rejected: every row Sluice wrote was accepted')
  })
}
