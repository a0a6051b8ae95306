// engine/dispatch/pack.ts: a compacted batch reaches the worker as its one
// shared buffer (no copy, nothing transferred), each message keeping its
// bytes as a view; a subset is copied into a transferable buffer; the worker
// reads both alike.
import t from 'tap'
import type Kafka from 'node-rdkafka'
import { foldAll } from '../../../../engine/control/fold'
import { buildSnapshot } from '../../../../engine/control/snapshot'
import { BatchBuffers, compactValues, packMessages } from '../../../../engine/dispatch/pack'
import { processBatch } from '../../../../workers/index'
import { META_END, META_OFFSET, type TaskInput } from '../../../../workers/protocol'

const CAPTURED = '2026-11-20T10:00:00.000Z'
const { state } = foldAll([{ type: 'create_project', request_id: 'r1', at: CAPTURED, name: 'Shop', api_token: 'phc_shop' }])
const SNAPSHOT = buildSnapshot(state, 1)

function consumed(): Kafka.Message[] {
  return ['☕ one', 'two', '', 'three 🦆'].map((event, i) => ({
    value: event === '' ? null : Buffer.from(JSON.stringify({
      uuid: `0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5${i}`, distinct_id: 'd', now: CAPTURED, token: 'phc_shop', data: JSON.stringify({ event, properties: { i } }),
    })),
    partition: i % 2, offset: 10 + i, timestamp: Date.parse(CAPTURED), topic: 'events', size: 0,
  })) as Kafka.Message[]
}

const rowsOf = (values: ArrayBuffer | SharedArrayBuffer, meta: Float64Array) => {
  const task: TaskInput = { values, meta, topic: 'events', snapshot: SNAPSHOT, nowMs: Date.parse(CAPTURED), claimsSettled: false }
  return Buffer.from(processBatch(task, { dateTime: 'DateTime', format: 'JSONEachRow' }).rows.bytes()).toString()
}

t.test('a compacted batch is handed over as its shared buffer; the values become views with the same bytes', async (t) => {
  const messages = consumed()
  const original = messages.map((m) => m.value && Buffer.from(m.value))
  compactValues(messages)
  t.same(messages.map((m) => m.value), original, 'same bytes')
  t.ok(messages.every((m) => m.value === null || m.value.buffer instanceof SharedArrayBuffer), 'views of shared memory')
  const packed = packMessages(messages)
  t.ok(packed.values instanceof SharedArrayBuffer, 'the batch is shared, not copied')
  t.equal(packed.values, messages[0].value!.buffer)
  t.same([...packed.meta.filter((_, i) => i % 4 === META_END)], [original[0]!.length, original[0]!.length + original[1]!.length, original[0]!.length + original[1]!.length, packed.bytes])
})

t.test('a subset of a compacted batch is copied; the worker writes the same rows from shared and copied values', async (t) => {
  const copied = consumed()
  const fromCopy = packMessages(copied)
  t.ok(fromCopy.values instanceof ArrayBuffer, 'an uncompacted batch is copied into a transferable buffer')
  const messages = consumed()
  compactValues(messages)
  const shared = packMessages(messages)
  t.equal(rowsOf(shared.values, shared.meta), rowsOf(fromCopy.values, fromCopy.meta))
  t.equal(rowsOf(shared.values, shared.meta).split('\n').filter(Boolean).length, 3, 'three rows; the empty message is dead-lettered')

  const subset = packMessages([messages[3], messages[1]])
  t.ok(subset.values instanceof ArrayBuffer, 'a subset is copied')
  t.same([...subset.meta.filter((_, i) => i % 4 === META_OFFSET)], [13, 11])
  t.same(Buffer.from(subset.values as ArrayBuffer), Buffer.concat([messages[3].value!, messages[1].value!]))
})

t.test('batch buffers are reused once given back; a reused buffer holds the next batch\'s bytes', async (t) => {
  const buffers = new BatchBuffers(2)
  const first = consumed()
  const block = compactValues(first, buffers)
  t.ok(block.byteLength >= 1 << 20, 'sized in powers of two from 1 MiB')
  const firstRows = (() => { const p = packMessages(first); return rowsOf(p.values, p.meta) })()
  buffers.give(block)
  const second = consumed().reverse()
  t.equal(compactValues(second, buffers), block, 'the same memory again')
  const packed = packMessages(second)
  t.equal(packed.values, block, 'handed over shared, though larger than the batch')
  t.same(rowsOf(packed.values, packed.meta).split('\n').filter(Boolean).sort(), firstRows.split('\n').filter(Boolean).sort(), 'the worker reads only up to each message\'s end')
  t.not(compactValues(consumed(), buffers), block, 'a buffer in use is not handed out twice')
})
