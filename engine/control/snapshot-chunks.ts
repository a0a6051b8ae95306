// A snapshot is one state image (state-image.ts), compressed and cut into
// `snapshot` commands small enough for any broker's message.max.bytes
// (Kafka's default is 1 MB), and put back together on the reading side. Chunks of one
// snapshot may interleave with other commands; chunks of a snapshot whose
// start fell to retention never complete and are forgotten. Pure: no I/O.
import { gunzipSync, gzipSync } from 'node:zlib'
import type { SnapshotChunk } from './commands'
import { decodeImage, type StateImage } from './state-image'

/**
 * Characters of the gzip+base64 payload per chunk: base64 is ASCII, so a
 * chunk's message stays near 512 KB, well within a 1 MB message.max.bytes.
 * The image compresses about tenfold (its records repeat their keys): 10,000
 * projects are ~5 MB of text, ~0.5 MB on the log.
 */
export const CHUNK_UNITS = 512 * 1024

/** The image text as it travels: gzip, then base64 (a chunk is JSON text). */
export function snapshotPayload(text: string): string {
  return gzipSync(Buffer.from(text, 'utf8')).toString('base64')
}

/** Partial snapshots kept while their chunks arrive; older ones are dropped. */
export const MAX_PARTIAL_SNAPSHOTS = 4

export type ChunkBody = Omit<SnapshotChunk, 'request_id' | 'at'>

/** `hash` is of the image text; the chunks carry its compressed payload (snapshotPayload). */
export function snapshotChunks(snapshotId: string, baseOffset: number, text: string, hash: string, unitsPerChunk = CHUNK_UNITS): ChunkBody[] {
  const payload = snapshotPayload(text)
  const count = Math.max(1, Math.ceil(payload.length / unitsPerChunk))
  const chunks: ChunkBody[] = []
  for (let index = 0; index < count; index++) {
    chunks.push({ type: 'snapshot', snapshot_id: snapshotId, base_offset: baseOffset, hash, encoding: 'gzip-base64', index, count, data: payload.slice(index * unitsPerChunk, (index + 1) * unitsPerChunk) })
  }
  return chunks
}

export interface AssembledSnapshot {
  snapshotId: string
  baseOffset: number
  hash: string
  /** the image's canonical text (what the hash is of) */
  text: string
  /** its size on the log (the compressed payload) */
  payloadBytes: number
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
    let text: string
    try {
      text = gunzipSync(Buffer.from(p.parts.join(''), 'base64')).toString('utf8')
    } catch (err) {
      return { kind: 'corrupt', snapshotId: id, baseOffset: p.baseOffset, problem: `its payload does not decompress: ${(err as Error).message}` }
    }
    const image = decodeImage(text, p.hash)
    if ('problem' in image) return { kind: 'corrupt', snapshotId: id, baseOffset: p.baseOffset, problem: image.problem }
    if (image.offset !== p.baseOffset) return { kind: 'corrupt', snapshotId: id, baseOffset: p.baseOffset, problem: `its state is of offset ${image.offset}, not its base offset` }
    return { kind: 'complete', snapshot: { snapshotId: id, baseOffset: p.baseOffset, hash: p.hash, text, payloadBytes: p.parts.reduce((n, part) => n + (part?.length ?? 0), 0), firstOffset: p.firstOffset }, image }
  }
}
