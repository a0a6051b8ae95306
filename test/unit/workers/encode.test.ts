// workers/encode.ts: ClickHouse time text for both flavors, and the task
// answer as one transferable buffer that decodes to what was encoded.
import t from 'tap'
import { formatDateTime } from '../../../workers/clickhouse-types'
import { RowWriter } from '../../../workers/row-writer'
import { decodeTaskOutput, encodeTaskOutput, type TaskHeader } from '../../../workers/protocol'

const HEADER: TaskHeader = {
  snapshotVersion: 7,
  messages: 5,
  eventRows: 2,
  rowMessages: [0, 2],
  partitions: [202503],
  drops: { no_token: 1 },
  keyRows: [[4, 2]],
  deadLetters: [{ index: 3, reason: 'invalid_json', error: 'message is not a JSON object' }],
  unresolved: [4],
  pendingClaims: { indexes: [1], claims: [[1, 'organization']] },
  warnings: [[2, 'event_timestamp_in_future', '{"eventUuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","timestamp":"2025-03-06T05:06:00.000Z"}', '']],
  groupUpdates: [[2, 0, 'org:5', '{"name":"Acme ☕"}', 1741064700123]],
  observations: {
    eventDefinitions: [[1, '$pageview']],
    propertyDefinitions: [[1, 'plan', 1, -1, 'String'], [1, 'missing', 1, -1, null], [1, 'size', 3, 0, 'Numeric']],
    eventProperties: [[1, '$pageview', 'plan']],
  },
}
const ROWS = Buffer.from('{"uuid":"a","event":"café ☕"}\n{"uuid":"b","event":"🦆"}\n', 'utf8')

/** Rows in a writer, as processBatch leaves them; a small start makes the header and trailer grow it */
function writerWith(rows: Uint8Array, capacity = 16): RowWriter {
  const w = new RowWriter(capacity)
  w.utf8(Buffer.from(rows).toString('utf8'))
  return w
}

t.test('formats times as DateTime64(6) with microseconds and as DateTime with seconds', async (t) => {
  const times = [Date.parse('2026-11-21T13:41:49.123Z'), Date.parse('2025-01-02T03:04:05.009Z'), 0]
  t.same(times.map((ms) => formatDateTime(ms, 'DateTime64')), ['2026-11-21 13:41:49.123000', '2025-01-02 03:04:05.009000', '1970-01-01 00:00:00.000000'])
  t.same(times.map((ms) => formatDateTime(ms, 'DateTime')), ['2026-11-21 13:41:49', '2025-01-02 03:04:05', '1970-01-01 00:00:00'])
})

t.test('a task answer decodes to the same header and row bytes', async (t) => {
  const decoded = decodeTaskOutput(encodeTaskOutput(HEADER, writerWith(ROWS)))
  t.same(decoded.header, HEADER)
  t.same(Buffer.from(decoded.events), ROWS)
})

t.test('an answer without rows decodes to no row bytes', async (t) => {
  const decoded = decodeTaskOutput(encodeTaskOutput(HEADER, writerWith(new Uint8Array(0))))
  t.same([decoded.header, decoded.events.byteLength], [HEADER, 0])
})

t.test('the answer is one whole ArrayBuffer that transfers: the sender keeps 0 bytes', async (t) => {
  const buffer = encodeTaskOutput(HEADER, writerWith(ROWS, 100_000))
  const size = buffer.byteLength
  const received = structuredClone(buffer, { transfer: [buffer] })
  t.equal(buffer.byteLength, 0)
  t.equal(received.byteLength, size)
  t.same(decodeTaskOutput(received).header, HEADER)
  t.same(Buffer.from(decodeTaskOutput(received).events), ROWS, 'the spare capacity between is skipped')
})
