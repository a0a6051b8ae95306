// Two engine processes on one broker and one ClickHouse server, in one
// consumer group: a token created through either instance's API is used by
// both instances' ingestion at once (an instance never calls a token unknown
// while it lags the control log), and both serve the same projects.
import t from 'tap'
import { eventually } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { startStack } from '../harness/stack'

t.test('a token created on instance A is accepted by both instances immediately', async (t) => {
  const stack = await startStack({ database: 'two' })
  t.teardown(() => stack.close('SIGKILL'))
  const { store, producer } = stack
  const a = await stack.start()
  const b = await stack.start()

  // wait until the group has split the partitions between A and B
  const split = await eventually(async () => /partitions assigned/.test(a.logs()) && /partitions assigned/.test(b.logs()), 30_000)
  t.ok(split, 'both instances hold partitions')

  const created = await a.api('POST', '/api/projects', { name: 'Multi' })
  const started = Date.now()
  const visible = await eventually(async () => (await b.api('GET', `/api/projects/${created.body.id}`)).status === 200, 5_000, 10)
  t.ok(visible, 'instance B serves the project created on A')
  t.comment(`visible through B's API after ${Date.now() - started} ms`)

  // right away, with the token, to every partition (keys spread them)
  const N = 400
  await producer.send('events_plugin_ingestion', Array.from({ length: N }, (_, i) => capturedMessage({ token: created.body.environments[0].api_token, distinct_id: `m${i}` })), (i) => `key-${i}`)
  const landed = await eventually(async () => Number((await store.query<{ n: string }>('SELECT count() AS n FROM two.events'))[0].n) === N, 30_000)
  t.ok(landed, `all ${N} events landed`)
  const consumedA = await a.metric('sluice_messages_consumed_total')
  const consumedB = await b.metric('sluice_messages_consumed_total')
  t.equal(consumedA + consumedB, N, 'together the instances consumed every message')
  t.ok(consumedA > 0 && consumedB > 0, 'both instances ingested some of them')
  t.equal(await a.metric('sluice_events_dropped_total{reason="invalid_token"}'), 0)
  t.equal(await b.metric('sluice_events_dropped_total{reason="invalid_token"}'), 0, 'B never called the new token unknown')

  const fromB = await b.api('POST', `/api/projects/${created.body.id}/environments`, { name: 'EU' })
  t.equal(fromB.status, 201)
  const seenOnA = await eventually(async () => (await a.api('GET', `/api/projects/${created.body.id}`)).body.environments.length === 2, 5_000, 10)
  t.ok(seenOnA, 'an environment created on B is served by A')
})
