// engine/dispatch/tally.ts and rounds.ts: real worker answers (processBatch
// on packed messages) folded into one tally; what runs again and why; the
// rounds policy as a table.
import type Kafka from 'node-rdkafka'
import t from 'tap'
import { foldAll } from '../../../../engine/control/fold'
import { buildSnapshot } from '../../../../engine/control/snapshot'
import { afterRecheck, planRound } from '../../../../engine/dispatch/rounds'
import { BatchTally, splitOversize, type RanPart } from '../../../../engine/dispatch/tally'
import { processBatch, threadDefinitions } from '../../../../workers/index'
import { capturedMessage } from '../../../harness/events'
import { taskOf } from '../../../harness/tasks'

const AT = '2025-03-04T05:06:00.000Z'
const NOW_MS = Date.parse(AT)
const { state } = foldAll([{ type: 'create_project', request_id: 'p', at: AT, name: 'Shop', api_token: 'phc_shop_token' }])
const SNAPSHOT = buildSnapshot(state, 900)

/** Runs values as one task starting at `firstOffset` of partition 2, as the pool would answer. */
function ran(values: string[], firstOffset: number): RanPart {
  threadDefinitions.forget()
  const task = taskOf(values, { snapshot: SNAPSHOT, nowMs: NOW_MS, kafkaTimestamp: NOW_MS, firstOffset })
  const { header, rows } = processBatch(task, { dateTime: 'DateTime', format: 'JSONEachRow' })
  const messages = values.map((v, i) => ({ value: Buffer.from(v), partition: 2, offset: firstOffset + i, topic: 't', size: v.length, timestamp: NOW_MS })) as Kafka.Message[]
  return { output: { header, events: rows.bytes().slice() }, messages }
}

t.test('answers of several tasks add up: rows with their sources, drops, dead letters, side outputs', async (t) => {
  const tally = new BatchTally()
  const left = tally.collect([
    ran([capturedMessage({ token: 'phc_shop_token', distinct_id: 'a' }), 'not json', capturedMessage({ distinct_id: 'no token' })], 100),
    ran([capturedMessage({ token: 'phc_shop_token', distinct_id: 'b', event: '$groupidentify', properties: { $group_type: 'company', $group_key: 'acme', $group_set: { plan: 'pro' } } })], 200),
  ])
  t.equal(tally.rows, 1, 'one row so far: the group identify waits for its claim')
  t.same(tally.coords, [2, 100], 'the row names partition 2, offset 100')
  t.same(tally.drops, { no_token: 1 })
  t.same(tally.letters.map((l) => [l.reason, l.source.offset]), [['invalid_json', 101]], 'the bad message is dead-lettered with its offset')
  t.same(left.pending.map((m) => m.offset), [200], 'the group identify runs again after its claim')
  t.same(left.claims, [[1, 'company']])
  t.same(left.unresolved, [])
  t.equal(tally.observations.length, 2, 'one set of observations per answer')
})

t.test('an unknown token is left to run again, not dropped by the collector', async (t) => {
  const tally = new BatchTally()
  const left = tally.collect([ran([capturedMessage({ token: 'phc_not_yet_known', distinct_id: 'x' })], 5)])
  t.same(left.unresolved.map((m) => m.offset), [5])
  t.same(tally.drops, {}, 'the driver decides after catching up (rounds.ts)')
  tally.drop('invalid_token', 1)
  tally.drop('invalid_token', 2)
  t.same(tally.drops, { invalid_token: 3 })
})

t.test('oversize messages are dead-lettered before any worker runs', async (t) => {
  const m = (n: number, offset: number) => ({ value: Buffer.alloc(n), partition: 0, offset, topic: 't', size: n }) as Kafka.Message
  const { fit, letters } = splitOversize([m(10, 1), m(2000, 2), m(1024, 3)], 1024)
  t.same(fit.map((x) => x.offset), [1, 3])
  t.same(letters.map((l) => [l.reason, l.source.offset]), [['message_too_large', 2]])
})

t.test('the rounds policy', async (t) => {
  const table: [Parameters<typeof planRound>[0], Parameters<typeof planRound>[1], ReturnType<typeof planRound>][] = [
    [{ tokensRechecked: false, claimsSettled: false }, { unresolved: 0, pending: 0 }, { unresolved: 'none', claim: false }],
    [{ tokensRechecked: false, claimsSettled: false }, { unresolved: 3, pending: 0 }, { unresolved: 'recheck', claim: false }],
    [{ tokensRechecked: true, claimsSettled: false }, { unresolved: 3, pending: 0 }, { unresolved: 'drop', claim: false }],
    [{ tokensRechecked: false, claimsSettled: false }, { unresolved: 0, pending: 2 }, { unresolved: 'none', claim: true }],
    [{ tokensRechecked: true, claimsSettled: true }, { unresolved: 1, pending: 1 }, { unresolved: 'drop', claim: true }],
  ]
  for (const [state, found, plan] of table) t.same(planRound(state, found), plan, JSON.stringify([state, found]))
  t.equal(afterRecheck(7, 7), 'drop', 'nothing new was folded: the token is unknown')
  t.equal(afterRecheck(7, 9), 'rerun', 'the state moved: the token may be known now')
})
