// Packs consumed Kafka messages into one transferable task: their values
// copied once into a single ArrayBuffer (one memcpy each; the worker gets the
// buffer by transfer, not clone) plus a Float64Array of per-message metadata.
import type Kafka from 'node-rdkafka'
import { META_END, META_OFFSET, META_PARTITION, META_STRIDE, META_TIMESTAMP } from '../../workers/protocol'

export interface PackedBatch {
  values: ArrayBuffer
  meta: Float64Array
  bytes: number
}

export function packMessages(messages: readonly Kafka.Message[]): PackedBatch {
  let bytes = 0
  for (const m of messages) bytes += m.value ? m.value.length : 0
  // not zero-filled (every byte is written below) and not from Buffer's shared pool (it is transferred)
  const view = Buffer.allocUnsafeSlow(bytes)
  const values = view.buffer as ArrayBuffer
  const meta = new Float64Array(messages.length * META_STRIDE)
  let pos = 0
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]
    if (m.value) {
      view.set(m.value, pos)
      pos += m.value.length
    }
    const k = i * META_STRIDE
    meta[k + META_END] = pos
    meta[k + META_PARTITION] = m.partition
    meta[k + META_OFFSET] = m.offset
    meta[k + META_TIMESTAMP] = m.timestamp ?? Date.now()
  }
  return { values, meta, bytes }
}
