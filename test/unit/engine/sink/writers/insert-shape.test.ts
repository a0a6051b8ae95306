// How the batcher shapes inserts for max_partitions_per_insert_block: rows
// grouped by partition into blocks of at most `limit` partitions
// (engine/sink/writers/batcher.ts blocksByPartition), each row's partition read from
// the row in either format (engine/sink/format/row-format.ts rowPartition).
import t from 'tap'
import { blocksByPartition } from '../../../../../engine/sink/writers/batcher'
import { JSON_EACH_ROW, rowPartition } from '../../../../../engine/sink/format/row-format'
import { eventColumns, monthOf } from '../../../../../workers/clickhouse-types'
import { RowWriter } from '../../../../../workers/row-writer'

t.test('blocks hold at most `limit` partitions, every row once, rows of a partition together', async (t) => {
  t.same(blocksByPartition([202401, 202402, 202401, 202403], 2), [[0, 2, 1], [3]])
  t.same(blocksByPartition([5, 5, 5], 1), [[0, 1, 2]])
  t.same(blocksByPartition([], 100), [])
  const keys = Array.from({ length: 1500 }, (_, i) => 200000 + (i % 150))
  const blocks = blocksByPartition(keys, 100)
  t.equal(blocks.length, 2, '150 partitions under a limit of 100: two inserts')
  t.same(blocks.flat().sort((a, b) => a - b), keys.map((_, i) => i), 'every row once')
  t.ok(blocks.every((b) => new Set(b.map((i) => keys[i])).size <= 100))
  t.same(blocksByPartition([1, Number.NaN, 2, Number.NaN], 1).length, 3, 'an unreadable partition is a block of its own')
})

t.test('a row\'s partition is read from JSONEachRow text and from RowBinary', async (t) => {
  t.equal(rowPartition(Buffer.from('{"uuid":"x","properties":"{\\"timestamp\\":\\"1999-01-01\\"}","timestamp":"2013-07-04 10:00:00.000000"}\n'), JSON_EACH_ROW), 201307, 'the row\'s own key, not one inside properties')
  t.ok(Number.isNaN(rowPartition(Buffer.from('{"uuid":"x"}\n'), JSON_EACH_ROW)))
  for (const flavor of ['DateTime', 'DateTime64'] as const) {
    const w = new RowWriter(256)
    w.uuid('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'); w.string('e'); w.string('{}')
    if (flavor === 'DateTime') w.uint32(Date.UTC(2004, 1, 29) / 1000); else w.int64(Date.UTC(2004, 1, 29) * 1000)
    t.equal(rowPartition(w.bytes(), { kind: 'RowBinary', columns: eventColumns(flavor) }), 200402, flavor)
  }
  t.same([monthOf(Date.UTC(2026, 11, 31, 23, 59, 59)), monthOf(Date.UTC(1969, 11, 1))], [202612, 196912])
})
