// The read side of the admin API against real components (mock Kafka through
// node-rdkafka, a private clickhouse-server, the engine as its own process):
// newest events with filters and cursor pages, groups and one group,
// ingestion warnings, stats, pagination of GET /api/projects with 10,000
// projects, and GET /api/status naming the stage that limits throughput with
// the bottleneck made real: ClickHouse stopped, then one worker under load.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { eventually } from '../harness/engine-process'
import { startStack } from '../harness/stack'
import { capturedMessage } from '../harness/events'
import { personIdOf } from '../../workers/persons/uuidv5'

const TOPIC = 'events_plugin_ingestion'

t.test('read API and status on one engine', async (t) => {
  const stack = await startStack({ database: 'readapi' })
  t.teardown(() => stack.close('SIGKILL'))
  const { ch, producer } = stack
  const engine = await stack.start({ SLUICE_WORKERS: '1', SLUICE_STATUS_WINDOW_SECONDS: '5' })
  const api = engine.api.bind(engine)
  const capture = async (token: string, batch: Record<string, unknown>[]) => {
    const res = await fetch(`${engine.captureUrl}/batch/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: token, batch }) })
    t.equal(res.status, 200)
  }

  const P = (await api('POST', '/api/projects', { name: 'Readable' })).body
  const env = P.environments[0]
  const E = `/api/environments/${env.id}`

  t.test('events: newest first, filtered, paged by cursor without skipping rows of one second', async (t) => {
    const batch = Array.from({ length: 25 }, (_, i) => ({ event: i % 5 === 0 ? 'signup' : 'view', distinct_id: `u${i % 3}`, properties: { i, $groups: { organization: `org-${i % 2}` } } }))
    batch.push({ event: '$groupidentify', distinct_id: 'u0', properties: { $group_type: 'organization', $group_key: 'org-0', $group_set: { name: "O'Reilly" }, i: 99 } as never })
    await capture(env.api_token, batch)
    const all = await eventually(async () => {
      const r = await api('GET', `${E}/events?limit=1000`)
      return r.body.results.length === 26 ? r.body : undefined
    })
    t.ok(all, '26 events stored')
    t.same(Object.keys(all.results[0]).sort(), ['distinct_id', 'event', 'person_id', 'properties', 'received_at', 'timestamp', 'uuid'])
    t.ok(all.results.every((e: { distinct_id: string; person_id: string }) => e.person_id === personIdOf(env.id, e.distinct_id)), 'each event\'s person (no merges here: its deterministic id)')
    t.equal(all.next, null, 'one page')
    const times = all.results.map((e: { timestamp: string }) => e.timestamp)
    t.same(times, [...times].sort().reverse(), 'newest first')
    t.equal((await api('GET', `${E}/events?event=signup`)).body.results.length, 5)
    t.equal((await api('GET', `${E}/events?distinct_id=u1`)).body.results.length, 8)
    t.same((await api('GET', `${E}/events?event=${encodeURIComponent("x' OR 1=1 --")}`)).body.results, [], 'a quote in a filter is a value, not SQL')
    t.equal((await api('GET', `${E}/events?before=2000-01-01T00:00:00Z`)).body.results.length, 0)
    // pages of 4 through `next`, as a client follows them
    const seen: string[] = []
    let next: string | null = `${engine.adminUrl}${E}/events?limit=4`
    let pages = 0
    while (next) {
      const r = await api('GET', next.slice(engine.adminUrl.length))
      t.ok(r.body.results.length <= 4)
      seen.push(...r.body.results.map((e: { uuid: string }) => e.uuid))
      next = r.body.next
      pages++
    }
    t.equal(pages, 7, '26 events in pages of 4')
    t.same([...seen].sort(), all.results.map((e: { uuid: string }) => e.uuid).sort(), 'every event once across the pages')
    t.equal((await api('GET', `${E}/events?limit=1001`)).body.error.field, 'limit')
    t.equal((await api('GET', `${E}/events?cursor=bm9wZQ`)).body.error.field, 'cursor')
    t.equal((await api('GET', '/api/environments/999/events')).status, 404)
  })

  t.test('groups: list, search, one group with its events and users', async (t) => {
    const list = await eventually(async () => {
      const r = await api('GET', `${E}/groups`)
      return r.body.results.length === 1 ? r.body : undefined
    })
    t.ok(list, 'the identified group is listed')
    t.match(list.results[0], { group_type: 'organization', group_type_index: 0, group_key: 'org-0', group_properties: { name: "O'Reilly" } })
    t.equal((await api('GET', `${E}/groups?search=reilly`)).body.results.length, 1, 'search matches properties')
    t.equal((await api('GET', `${E}/groups?search=${encodeURIComponent("'")}`)).body.results.length, 1, 'a quote is searched for, not run')
    t.equal((await api('GET', `${E}/groups?group_type_index=1`)).body.results.length, 0)
    const one = (await api('GET', `${E}/groups/0/org-0`)).body
    t.equal(one.events_last_30_days, 13, 'the 13 events carrying it in $groups')
    t.same(one.distinct_ids.map((d: { distinct_id: string }) => d.distinct_id).sort(), ['u0', 'u1', 'u2'])
    const seenOnly = (await api('GET', `${E}/groups/0/org-1`)).body
    t.equal(seenOnly.events_last_30_days, 12, 'a group never identified but seen on events has a page too')
    t.equal((await api('GET', `${E}/groups/0/nope`)).body.error.code, 'SLUICE_ERR_GROUP_NOT_FOUND')
    t.equal((await api('GET', `${E}/groups/7/org-0`)).status, 400)
  })

  t.test('ingestion warnings and stats', async (t) => {
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString()
    await capture(env.api_token, [{ event: 'from the future', distinct_id: 'f', timestamp: future, properties: {} }])
    const warnings = await eventually(async () => {
      const r = await api('GET', `${E}/ingestion_warnings?type=event_timestamp_in_future`)
      return r.body.results.length === 1 ? r.body : undefined
    })
    t.ok(warnings, 'the warning is listed')
    t.equal(warnings.next, null)
    t.equal((await api('GET', `${E}/ingestion_warnings?since=2999-01-01T00:00:00Z`)).body.results.length, 0)
    t.equal((await api('GET', `${E}/ingestion_warnings?since=yesterday`)).body.error.field, 'since')
    const stats = (await api('GET', `${E}/stats`)).body
    t.equal(stats.events_per_minute.length, 60, 'a point per minute of the last hour')
    t.equal(stats.events_last_hour, 27)
    t.ok(stats.last_received_at, 'the last arrival')
    t.same(stats.warnings_last_24h_by_type, { event_timestamp_in_future: 1 })
    t.ok(stats.instance.dropped_by_reason, 'drops by reason (instance-wide)')
  })

  t.test('GET /api/projects pages through 10,000 projects', async (t) => {
    const target = 10_000
    const have = (await api('GET', '/api/projects?limit=1000')).body.results.length
    let next = have
    const started = Date.now()
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < target) {
        next++
        const r = await api('POST', '/api/projects', { name: `bulk ${next}` })
        if (r.status !== 201) throw new Error(`create failed: ${r.status}`)
      }
    }))
    t.comment(`created ${target - have} projects in ${Date.now() - started} ms`)
    const res = await fetch(`${engine.adminUrl}/api/projects`, { headers: { authorization: `Bearer ${engine.adminToken}` } })
    const text = await res.text()
    const first = JSON.parse(text)
    t.equal(first.results.length, 100, 'the default page holds 100')
    t.comment(`GET /api/projects: ${Buffer.byteLength(text)} bytes for the first page of 100`)
    t.match(first.next, /^http:\/\/127\.0\.0\.1:\d+\/api\/projects\?limit=100&offset=100$/, 'next is a URL')
    let total = 0
    let url: string | null = `${engine.adminUrl}/api/projects?limit=1000`
    const ids = new Set<number>()
    while (url) {
      const r = await api('GET', url.slice(engine.adminUrl.length))
      for (const p of r.body.results) ids.add(p.id)
      total += r.body.results.length
      url = r.body.next
    }
    t.ok(total >= target && ids.size === total, `every project once over the pages (${total})`)
    t.equal((await api('GET', '/api/projects?search=bulk 9999')).body.results[0].name, 'bulk 9999', 'search by name')
    t.equal((await api('GET', '/api/projects?limit=0')).body.error.field, 'limit')
  })

  t.test('GET /api/status names clickhouse while it is stopped, then workers when one worker is under load', async (t) => {
    const idle = await eventually(async () => {
      const r = (await api('GET', '/api/status')).body
      return r.stage === 'none' ? r : undefined
    }, 20_000, 500)
    t.ok(idle, 'idle: nothing limits')
    t.match(idle.figures, { workers: { threads: 1 }, clickhouse: { reachable: true } })

    await ch.stop()
    await capture(env.api_token, [{ event: 'while down', distinct_id: 'd', properties: {} }])
    const down = await eventually(async () => {
      const r = (await api('GET', '/api/status')).body
      return r.stage === 'clickhouse' ? r : undefined
    }, 30_000, 500)
    t.ok(down, 'ClickHouse stopped: the verdict names clickhouse')
    t.comment(`verdict with ClickHouse stopped: ${JSON.stringify({ stage: down?.stage, summary: down?.summary, because: down?.because })}`)
    t.match(await engine.metric('sluice_bottleneck{stage="clickhouse"}'), 1, 'and so does sluice_bottleneck')
    await ch.start()
    t.ok(await eventually(async () => (await api('GET', '/api/status')).body.stage !== 'clickhouse', 30_000, 500), 'back: clickhouse no longer limits')

    // one worker, heavy events (many properties: the workers' part grows with them), closed loop under the mock's retention
    const props = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`prop_${i}`, i % 3 === 0 ? `value ${i}` : i]))
    const heavy = Array.from({ length: 2000 }, (_, i) => capturedMessage({ token: env.api_token, distinct_id: `load-${i}`, event: 'load', properties: props }))
    let sent = 0
    const consumedBase = await engine.metric('sluice_messages_consumed_total')
    let verdict: any
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline) {
      await producer.send(TOPIC, heavy.map((m) => m.replace(/"uuid":"[^"]+"/g, `"uuid":"${randomUUID()}"`)), (i) => `k${i}`)
      sent += heavy.length
      const r = (await api('GET', '/api/status')).body
      if (r.stage === 'workers') { verdict = r; break }
      // keep lag bounded: wait until most of what was sent was consumed
      await eventually(async () => (await engine.metric('sluice_messages_consumed_total')) - consumedBase >= sent - 4000, 30_000, 50)
    }
    t.ok(verdict, 'one worker under load: the verdict names workers')
    t.comment(`verdict under load after ${sent} messages: ${JSON.stringify({ stage: verdict?.stage, summary: verdict?.summary, advice: verdict?.advice, because: verdict?.because })}`)
    if (verdict) t.match(verdict.advice.join(' '), /SLUICE_WORKERS|cores/, 'with what to change')
  })
})
