// engine/sink/writers/groups.ts, its pure part: how an owner applies the
// group updates of its partitions. Issue 15 rule 9: a group's created_at is
// the earliest event timestamp seen for it, not the processing time (PostHog
// keeps the first event's time for a group). Issue 19: updates apply in the
// update topic's order, rows carry the offset as their version, and a replay
// converges to the same properties.
import t from 'tap'
import { applyGroupUpdates, groupKeyOf, type GroupState, type SourcedGroupUpdate } from '../../../../../engine/sink/writers/groups'

const at = (iso: string) => Date.parse(iso)
const PRODUCED_MS = Date.parse('2025-03-04T05:10:00.000Z')

let nextOffset = 0
function update(key: string, timestampIso: string, set: Record<string, unknown> = {}, offset = nextOffset++): SourcedGroupUpdate {
  return { team: 1, index: 0, key, set, timestampMs: at(timestampIso), partition: 0, offset, producedMs: PRODUCED_MS }
}

/** Applies batches one after the other onto a store of states, as the owner's cache does. */
function run(batches: SourcedGroupUpdate[][], stored: Map<string, GroupState> = new Map()): { states: Map<string, GroupState>; rows: Record<string, unknown>[] } {
  let rows: Record<string, unknown>[] = []
  for (const b of batches) {
    const applied = applyGroupUpdates(b, (k) => stored.get(k), 'DateTime64')
    for (const [k, { state }] of applied.changed) stored.set(k, state)
    rows = applied.chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  }
  return { states: stored, rows }
}

const createdOf = (rows: Record<string, unknown>[]) => Object.fromEntries(rows.map((r) => [r.group_key, r.created_at]))

const CASES: { name: string; stored?: [string, GroupState][]; batches: SourcedGroupUpdate[][]; expected: Record<string, unknown> }[] = [
  { name: 'a new group: its event\'s timestamp', batches: [[update('acme', '2025-03-01T10:00:00.000Z')]], expected: { acme: '2025-03-01 10:00:00.000000' } },
  {
    name: 'the earliest of a batch, whatever the order',
    batches: [[update('acme', '2025-03-02T10:00:00.000Z'), update('acme', '2025-03-01T09:00:00.000Z')]],
    expected: { acme: '2025-03-01 09:00:00.000000' },
  },
  {
    name: 'a later batch with an older event moves it back; a newer one does not move it',
    batches: [[update('acme', '2025-03-02T10:00:00.000Z')], [update('acme', '2025-02-27T08:00:00.000Z')], [update('acme', '2025-03-03T08:00:00.000Z')]],
    expected: { acme: '2025-02-27 08:00:00.000000' },
  },
  {
    name: 'a stored group keeps its created_at when newer events arrive',
    stored: [[groupKeyOf(1, 0, 'acme'), { properties: {}, createdAt: '2025-01-01 00:00:00.000000' }]],
    batches: [[update('acme', '2025-03-02T10:00:00.000Z')]],
    expected: { acme: '2025-01-01 00:00:00.000000' },
  },
]

for (const c of CASES) {
  t.test(`created_at: ${c.name}`, async (t) => {
    t.same(createdOf(run(c.batches, new Map(c.stored)).rows), c.expected)
  })
}

t.test('updates apply in the topic\'s order: the later update of a key wins, keys not mentioned keep theirs', async (t) => {
  const { rows } = run([[update('acme', '2025-03-02T10:00:00.000Z', { plan: 'free', seats: 3 }, 10), update('acme', '2025-03-01T10:00:00.000Z', { plan: 'pro' }, 11)]])
  t.same(rows.map((r) => [JSON.parse(r.group_properties as string), r._version]), [[{ plan: 'pro', seats: 3 }, 12]], 'one row, the last offset + 1 as its version')
})

t.test('200 updates of one group, each setting its own key, end with all 200 keys', async (t) => {
  const batch = Array.from({ length: 200 }, (_, i) => update('acme', '2025-03-02T10:00:00.000Z', { [`p${i}`]: i }, i))
  const { rows } = run([batch.slice(0, 70), batch.slice(70)])
  t.equal(Object.keys(JSON.parse(rows[0].group_properties as string) as object).length, 200)
})

t.test('a replay after a crash (the batch applied again onto its own write) gives the same row', async (t) => {
  const batch = [update('acme', '2025-03-02T10:00:00.000Z', { a: 1 }, 5), update('acme', '2025-03-02T10:00:01.000Z', { a: 2, b: 1 }, 6), update('beta', '2025-03-02T10:00:00.000Z', { c: 1 }, 7)]
  const first = run([batch])
  const again = run([batch], first.states)
  t.same(again.rows, first.rows, 'same properties, created_at, _timestamp and _version')
})

t.test('a __proto__ key is stored as a property, never as the prototype', async (t) => {
  const set = JSON.parse('{"__proto__": {"polluted": true}, "name": "x"}') as Record<string, unknown>
  const { rows, states } = run([[update('acme', '2025-03-02T10:00:00.000Z', set)]])
  t.same(JSON.parse(rows[0].group_properties as string), { __proto__: { polluted: true }, name: 'x' })
  t.equal((states.get(groupKeyOf(1, 0, 'acme'))!.properties as { polluted?: unknown }).polluted, undefined)
})
