// Liveness and readiness verdicts from their sources, without servers: the
// group-update consumer is checked beside the ingestion consumer.
import t from 'tap'
import { liveness, LOOP_STALE_MS, readiness, type HealthSources } from '../../../engine/health'

const NOW = 1_000_000

function sources(groups: Partial<HealthSources['groups']> = {}): HealthSources {
  return {
    consumer: { lastLoopAt: NOW - 100, assigned: [0, 1] },
    groups: { lastLoopAt: NOW - 100, writingSince: 0, assigned: [2, 3], connected: true, ...groups },
    control: { ready: true, caughtUpAt: Date.now(), state: { offset: 7 } as HealthSources['control']['state'], problem: undefined },
    store: { query: async () => [] as never },
    batcher: { failingSince: 0 },
    stopping: () => false,
  }
}

t.test('healthz fails naming the group-update loop when it has not iterated for the limit', async (t) => {
  const h = liveness(sources({ lastLoopAt: NOW - LOOP_STALE_MS - 1 }), NOW)
  t.equal(h.ok, false)
  t.same(h.failing, ['group_update_loop'])
  t.equal(h.checks.consume_loop.ok, true)
})

t.test('healthz stays up while the group-update loop waits for ClickHouse to take a batch', async (t) => {
  const h = liveness(sources({ lastLoopAt: NOW - 5 * LOOP_STALE_MS, writingSince: NOW - 4 * LOOP_STALE_MS }), NOW)
  t.equal(h.ok, true)
  t.match(h.checks.group_update_loop.detail, /writing a batch of group updates/)
})

t.test('readyz names the group-update consumer when it is not connected', async (t) => {
  const r = await readiness(sources({ connected: false }))
  t.same(r.failing, ['group_consumer'])
  t.match(r.checks.group_consumer.detail, /not connected/)
})

t.test('readyz: a connected group-update consumer waiting for an assignment is ready (more instances than partitions)', async (t) => {
  const r = await readiness(sources({ assigned: [] }))
  t.equal(r.ok, true)
  t.same(r.checks.group_consumer, { ok: true, detail: 'waiting for assignment' })
  const owning = await readiness(sources())
  t.same(owning.checks.group_consumer, { ok: true, detail: 'update-topic partitions 2,3' })
})
