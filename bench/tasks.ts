// Worker tasks for the single-thread micro-benchmarks (parse.bench.ts,
// persons.bench.ts): messages packed as the consumer packs them, one task per
// `batch` messages, spread over four partitions.
import { META_END, META_OFFSET, META_PARTITION, META_STRIDE, META_TIMESTAMP, type TaskInput } from '../workers/protocol'

export function benchTasks(messages: string[], batch: number, snapshot: TaskInput['snapshot'], claimsSettled = false): TaskInput[] {
  const out: TaskInput[] = []
  const now = Date.now()
  for (let s = 0; s < messages.length; s += batch) {
    const bytes = messages.slice(s, s + batch).map((m) => Buffer.from(m))
    const values = new ArrayBuffer(bytes.reduce((n, b) => n + b.length, 0))
    const meta = new Float64Array(bytes.length * META_STRIDE)
    let end = 0
    bytes.forEach((b, i) => {
      new Uint8Array(values).set(b, end)
      end += b.length
      meta[i * META_STRIDE + META_END] = end
      meta[i * META_STRIDE + META_PARTITION] = i % 4
      meta[i * META_STRIDE + META_OFFSET] = s + i
      // Kafka timestamps increase with the offset: a replayed message keeps its versions (persons)
      meta[i * META_STRIDE + META_TIMESTAMP] = now + s + i
    })
    out.push({ values, meta, topic: 'events_plugin_ingestion', snapshot, nowMs: now, claimsSettled })
  }
  return out
}
