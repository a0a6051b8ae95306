// The benchmark's message stream, generated once before any pipeline runs so
// that every pipeline reads exactly the same bytes and the producer spends no
// CPU on JSON while a pipeline is measured (bench/generate.ts costs ~12 µs a
// message; producing from memory costs ~2–3 µs).
//
// Messages live in a few large slabs; message(i) is a view, never a copy.
// A stream longer than the generated pool (latency phases) cycles through
// the pool and writes the cycle number into the last 4 hex digits of the
// message's uuid (both copies: outer and inside `data`), so uuids stay unique:
//
//   {"uuid":"0192c3d4-…-4f1a2b3c0000", … "data":"{… \"uuid\":\"0192c3d4-…-4f1a2b3c0000\"}"}
//                                ^^^^ cycle                                      ^^^^ cycle
import { messageGenerator } from './generate'

const SLAB_BYTES = 32 * 1024 * 1024
const HEX4 = (n: number) => (n & 0xffff).toString(16).padStart(4, '0')

export interface BenchStream {
  /** messages in the pool (one cycle) */
  readonly pool: number
  /** bytes of one cycle */
  readonly poolBytes: number
  readonly averageBytes: number
  /** message i (any i ≥ 0); the view is only valid until message(j) of another cycle is asked for */
  message(i: number): Buffer
  /** Kafka key of message i: `token:distinct_id`, as PostHog's capture keys it */
  key(i: number): string
  /** bytes of messages [from, from + count) */
  bytesOf(from: number, count: number): number
}

export function generateStream(pool: number, tokens: string[], seed = 42, users?: number): BenchStream {
  const next = messageGenerator({ tokens, seed, users })
  const slabs: Buffer[] = [Buffer.allocUnsafe(SLAB_BYTES)]
  const slabOf = new Uint16Array(pool)
  const start = new Uint32Array(pool)
  const end = new Uint32Array(pool)
  const uuidAt = new Uint32Array(pool * 2)
  const keys: string[] = new Array(pool)
  const prefix = new Float64Array(pool + 1)
  let pos = 0
  for (let i = 0; i < pool; i++) {
    let text = next()
    const uuid = text.slice(9, 45) // the generator writes {"uuid":"…" first
    const stamped = uuid.slice(0, 32) + '0000'
    text = text.replaceAll(uuid, stamped)
    const len = Buffer.byteLength(text)
    if (pos + len > SLAB_BYTES) {
      slabs.push(Buffer.allocUnsafe(Math.max(SLAB_BYTES, len)))
      pos = 0
    }
    const slab = slabs[slabs.length - 1]
    slab.write(text, pos, 'utf8')
    slabOf[i] = slabs.length - 1
    start[i] = pos
    end[i] = pos + len
    const view = slab.subarray(pos, pos + len)
    const first = view.indexOf(stamped)
    const second = view.indexOf(stamped, first + 1)
    uuidAt[i * 2] = pos + first + 32
    uuidAt[i * 2 + 1] = second < 0 ? pos + first + 32 : pos + second + 32
    const token = /"token":"([^"]*)"/.exec(text)?.[1] ?? ''
    const distinctId = /"distinct_id":"([^"]*)"/.exec(text)?.[1] ?? ''
    keys[i] = `${token}:${distinctId}`
    prefix[i + 1] = prefix[i] + len
    pos += len
  }
  const poolBytes = prefix[pool]
  const stampedCycle = new Int32Array(pool) // cycle each message currently carries
  return {
    pool,
    poolBytes,
    averageBytes: poolBytes / pool,
    message(i) {
      const j = i % pool
      const cycle = Math.floor(i / pool)
      const slab = slabs[slabOf[j]]
      if (stampedCycle[j] !== cycle) {
        const hex = HEX4(cycle)
        slab.write(hex, uuidAt[j * 2], 'latin1')
        slab.write(hex, uuidAt[j * 2 + 1], 'latin1')
        stampedCycle[j] = cycle
      }
      return slab.subarray(start[j], end[j])
    },
    key: (i) => keys[i % pool],
    bytesOf(from, count) {
      let bytes = 0
      let i = from
      const stop = from + count
      while (i < stop) {
        const j = i % pool
        const n = Math.min(stop - i, pool - j)
        bytes += prefix[j + n] - prefix[j]
        i += n
      }
      return bytes
    },
  }
}
