// A snapshot is one state image (state-image.ts) cut into `snapshot`
// commands small enough for any broker's message.max.bytes (Kafka's default
// is 1 MB), and put back together on the reading side. Chunks of one
// snapshot may interleave with other commands; chunks of a snapshot whose
// start fell to retention never complete and are forgotten. Pure: no I/O.
import type { SnapshotChunk } from './commands'
import { decodeImage, type StateImage } from './state-image'

/**
 * UTF-16 units of image text per chunk. JSON-escaping a unit yields at most 6
 * bytes (`\u001f`), so a chunk's message stays under 6 × 96 Ki + envelope
 * < 600 KB, well within a 1 MB message.max.bytes whatever the names hold.
 */
export const CHUNK_UNITS = 96 * 1024

/** Partial snapshots kept while their chunks arrive; older ones are dropped. */
export const MAX_PARTIAL_SNAPSHOTS = 4

export type ChunkBody = Omit<SnapshotChunk, 'request_id' | 'at'>

export function snapshotChunks(snapshotId: string, baseOffset: number, text: string, hash: string, unitsPerChunk = CHUNK_UNITS): ChunkBody[] {
  const count = Math.max(1, Math.ceil(text.length / unitsPerChunk))
  const chunks: ChunkBody[] = []
  for (let index = 0; index < count; index++) {
    // a slice may split a surrogate pair: JSON carries each half escaped and joining restores the pair
    chunks.push({ type: 'snapshot', snapshot_id: snapshotId, base_offset: baseOffset, hash, index, count, data: text.slice(index * unitsPerChunk, (index + 1) * unitsPerChunk) })
  }
  return chunks
}

export interface AssembledSnapshot {
  snapshotId: string
  baseOffset: number
  hash: string
  /** the image's canonical text (what the hash is of) */
  text: string
  /** the first log offset that held one of its chunks */
  firstOffset: number
}

export type AssemblyResult =
  | { kind: 'partial' }
  | { kind: 'complete'; snapshot: AssembledSnapshot; image: StateImage }
  | { kind: 'corrupt'; snapshotId: string; baseOffset: number; problem: string }

interface Partial { baseOffset: number; hash: string; count: number; parts: (string | undefined)[]; received: number; firstOffset: number }

export class SnapshotAssembler {
  private readonly partials = new Map<string, Partial>()

  add(chunk: SnapshotChunk, offset: number): AssemblyResult {
    const { snapshot_id: id, index, count } = chunk
    if (typeof id !== 'string' || !Number.isInteger(index) || !Number.isInteger(count) || count < 1 || index < 0 || index >= count || typeof chunk.data !== 'string') {
      return { kind: 'corrupt', snapshotId: String(id), baseOffset: Number(chunk.base_offset), problem: 'malformed chunk' }
    }
    let p = this.partials.get(id)
    if (!p) {
      // a chunk that is not the first one starts a snapshot whose beginning is gone: it can never complete
      if (index !== 0) return { kind: 'partial' }
      p = { baseOffset: chunk.base_offset, hash: chunk.hash, count, parts: new Array<string | undefined>(count), received: 0, firstOffset: offset }
      this.partials.set(id, p)
      if (this.partials.size > MAX_PARTIAL_SNAPSHOTS) this.partials.delete(this.partials.keys().next().value as string)
    }
    if (p.count !== count || p.hash !== chunk.hash || p.baseOffset !== chunk.base_offset) {
      this.partials.delete(id)
      return { kind: 'corrupt', snapshotId: id, baseOffset: p.baseOffset, problem: 'its chunks disagree on count, hash or base offset' }
    }
    if (p.parts[index] === undefined) p.received++
    p.parts[index] = chunk.data
    if (p.received < p.count) return { kind: 'partial' }
    this.partials.delete(id)
    const text = p.parts.join('')
    const image = decodeImage(text, p.hash)
    if ('problem' in image) return { kind: 'corrupt', snapshotId: id, baseOffset: p.baseOffset, problem: image.problem }
    if (image.offset !== p.baseOffset) return { kind: 'corrupt', snapshotId: id, baseOffset: p.baseOffset, problem: `its state is of offset ${image.offset}, not its base offset` }
    return { kind: 'complete', snapshot: { snapshotId: id, baseOffset: p.baseOffset, hash: p.hash, text, firstOffset: p.firstOffset }, image }
  }
}
