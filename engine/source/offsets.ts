// Per-partition offset tracking: what may be committed. Each consumed batch
// registers one segment per partition it touched; a segment is done when every
// row derived from it is acknowledged by ClickHouse (or it produced none).
// Segments finish out of order; the commit point only moves over a done prefix:
//
//   partition 3:  [100..149 done][150..199 pending][200..260 done]
//                                ^ commit offset stays 150 until the middle finishes
//
// A revoked partition's segments are forgotten: their acknowledgements must not
// commit anything (the partition's new owner re-reads from the last commit).

export interface Segment {
  readonly partition: number
  readonly first: number
  readonly last: number
  /** partition generation at registration; stale after a revocation */
  readonly generation: number
  done: boolean
}

interface PartitionState {
  readonly partition: number
  generation: number
  segments: Segment[]
  /** next offset to commit (last done offset + 1), -1 if nothing yet */
  committable: number
}

export interface CommitPoint { partition: number; offset: number }

export class OffsetTracker {
  private readonly partitions = new Map<number, PartitionState>()
  private generationCounter = 0

  private stateOf(partition: number): PartitionState {
    let s = this.partitions.get(partition)
    if (!s) {
      s = { partition, generation: ++this.generationCounter, segments: [], committable: -1 }
      this.partitions.set(partition, s)
    }
    return s
  }

  track(partition: number, first: number, last: number): Segment {
    const s = this.stateOf(partition)
    const seg: Segment = { partition, first, last, generation: s.generation, done: false }
    s.segments.push(seg)
    return seg
  }

  /** Marks segments done; returns the commit points that moved. */
  complete(segments: readonly Segment[]): CommitPoint[] {
    const touched = new Set<PartitionState>()
    for (const seg of segments) {
      const s = this.partitions.get(seg.partition)
      if (!s || s.generation !== seg.generation) continue
      seg.done = true
      touched.add(s)
    }
    const moved: CommitPoint[] = []
    for (const s of touched) {
      let advanced = false
      while (s.segments.length > 0 && s.segments[0].done) {
        s.committable = s.segments.shift()!.last + 1
        advanced = true
      }
      if (advanced) moved.push({ partition: s.partition, offset: s.committable })
    }
    return moved
  }

  revoke(partitions: readonly number[]): void {
    for (const p of partitions) this.partitions.delete(p)
  }

  pendingSegments(): number {
    let n = 0
    for (const s of this.partitions.values()) n += s.segments.length
    return n
  }
}
