// Issue 15 rule 9: a group's created_at is the earliest event timestamp seen
// for it, not the processing time (PostHog keeps the first event's time for a
// group). engine/sink/writers/groups.ts with a store that answers from a table.
import t from 'tap'
import pino from 'pino'
import { GroupMerger } from '../../../../../engine/sink/writers/groups'
import type { Schema } from '../../../../../engine/sink/format/schema'
import type { ClickHouseStore } from '../../../../../engine/sink/transport/store'
import type { GroupUpdate } from '../../../../../workers/protocol'

const schema = { dateTime: 'DateTime64', tables: { groups: 'db.groups' } } as unknown as Schema
const NOW_MS = Date.parse('2025-03-04T05:10:00.000Z')
const at = (iso: string) => Date.parse(iso)

function merger(stored: Record<string, unknown>[] = []): GroupMerger {
  const store = { query: async () => stored } as unknown as ClickHouseStore
  return new GroupMerger(store, schema, pino({ level: 'silent' }))
}

async function createdAt(m: GroupMerger, updates: GroupUpdate[]): Promise<Record<string, string>> {
  const [rows] = await m.rows(updates, NOW_MS)
  return Object.fromEntries(Buffer.from(rows.chunk).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { group_key: string; created_at: string }).map((r) => [r.group_key, r.created_at]))
}

const CASES: { name: string; stored?: Record<string, unknown>[]; batches: GroupUpdate[][]; expected: Record<string, string> }[] = [
  { name: 'a new group: its event\'s timestamp', batches: [[[1, 0, 'acme', '{}', at('2025-03-01T10:00:00.000Z')]]], expected: { acme: '2025-03-01 10:00:00.000000' } },
  {
    name: 'the earliest of a batch, whatever the order',
    batches: [[[1, 0, 'acme', '{}', at('2025-03-02T10:00:00.000Z')], [1, 0, 'acme', '{}', at('2025-03-01T09:00:00.000Z')]]],
    expected: { acme: '2025-03-01 09:00:00.000000' },
  },
  {
    name: 'a later batch with an older event moves it back; a newer one does not move it',
    batches: [[[1, 0, 'acme', '{}', at('2025-03-02T10:00:00.000Z')]], [[1, 0, 'acme', '{}', at('2025-02-27T08:00:00.000Z')]], [[1, 0, 'acme', '{}', at('2025-03-03T08:00:00.000Z')]]],
    expected: { acme: '2025-02-27 08:00:00.000000' },
  },
  {
    name: 'a stored group keeps its created_at when newer events arrive',
    stored: [{ team_id: 1, group_type_index: 0, group_key: 'acme', group_properties: '{}', created_at: '2025-01-01 00:00:00.000000' }],
    batches: [[[1, 0, 'acme', '{}', at('2025-03-02T10:00:00.000Z')]]],
    expected: { acme: '2025-01-01 00:00:00.000000' },
  },
]

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const m = merger(c.stored)
    let last: Record<string, string> = {}
    for (const b of c.batches) last = await createdAt(m, b)
    t.same(last, c.expected)
  })
}
