// Large buffers reused instead of allocated per batch. A fresh multi-megabyte
// buffer is fresh memory from the kernel: its first write to every page is a
// page fault (copying 2,000 rows into a new buffer cost 1.8–2.5 µs per row
// against 0.15 into a reused one, micro-benchmark; 10 % of the main thread's
// profile with persons on), and freeing it from whichever thread collects it
// last fragmented the allocator's heap (bench/: peak RSS 505–522 MiB before
// the consumed batches' buffers were reused, 329 MiB after).

export class BufferPool<T extends ArrayBuffer | SharedArrayBuffer> {
  private readonly free: T[] = []

  /** `keep`: most buffers held while unused; `make`: a new one of a size. */
  constructor(private readonly keep: number, private readonly make: (bytes: number) => T) {}

  /** A buffer of at least `bytes` (a power of two from 1 MiB, so batches of similar size share buffers). */
  take(bytes: number): T {
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].byteLength >= bytes) return this.free.splice(i, 1)[0]
    }
    let size = 1 << 20
    while (size < bytes) size *= 2
    return this.make(size)
  }

  /** Back for reuse: nothing may read its contents any more. */
  give(buffer: T): void {
    if (this.free.length < this.keep) this.free.push(buffer)
  }
}
