// `npm run bench -- --gc`: Sluice's engine runs under `node --trace-gc-nvp`,
// and its output (one line per collection, every isolate: the main thread
// and each worker) is summed here per thread. A scavenge's cost follows what
// survives it (copied within the young generation or promoted): objects that
// outlive a batch, or a batch that waits, are what makes it expensive.
// `background` is the time of V8's helper threads (the bench's "runtime"
// CPU); `pause`, the thread's own.

export interface GcThread {
  /** `main` (the first isolate to collect: it starts before any worker), then `worker 1`, `worker 2`, … */
  thread: string
  scavenges: number
  scavengePauseMs: number
  scavengeBackgroundMs: number
  /** bytes scavenges copied: survivors moved within the young generation, and promoted to the old one */
  copiedBytes: number
  /** bytes allocated between collections, as V8 reports it */
  allocatedBytes: number
  markCompacts: number
  markCompactPauseMs: number
}

const FIELD = /([a-z_.]+)=([\d.]+)/g

/** The per-thread sums of a `--trace-gc-nvp` log (other lines are ignored). */
export function summarizeGcTrace(log: string): GcThread[] {
  const threads = new Map<string, GcThread>()
  for (const line of log.split('\n')) {
    const at = line.indexOf(' gc=')
    const isolate = /^\[\d+:(0x[0-9a-f]+)\]/.exec(line)?.[1]
    if (at < 0 || isolate === undefined) continue
    const kind = line.slice(at + 4, line.indexOf(' ', at + 4))
    const f: Record<string, number> = {}
    for (const [, k, v] of line.matchAll(FIELD)) f[k] = Number(v)
    let t = threads.get(isolate)
    if (t === undefined) {
      t = { thread: threads.size === 0 ? 'main' : `worker ${threads.size}`, scavenges: 0, scavengePauseMs: 0, scavengeBackgroundMs: 0, copiedBytes: 0, allocatedBytes: 0, markCompacts: 0, markCompactPauseMs: 0 }
      threads.set(isolate, t)
    }
    t.allocatedBytes += f.allocated ?? 0
    if (kind === 's') {
      t.scavenges++
      t.scavengePauseMs += f.pause ?? 0
      t.scavengeBackgroundMs += f['background.scavenge.parallel'] ?? 0
      t.copiedBytes += (f.promoted ?? 0) + (f.new_space_survived ?? 0)
    } else if (kind === 'mc') {
      t.markCompacts++
      t.markCompactPauseMs += f.pause ?? 0
    }
  }
  return [...threads.values()]
}

/** One line per thread, every figure per 1M events. */
export function formatGcSummary(threads: readonly GcThread[], events: number): string[] {
  const per = 1e6 / Math.max(1, events)
  return threads.filter((t) => t.scavenges + t.markCompacts > 0).map((t) =>
    `  ${t.thread.padEnd(9)} ${(t.scavenges * per).toFixed(0)} scavenges: ${(t.scavengePauseMs * per / 1000).toFixed(1)} s paused, ` +
    `${(t.scavengeBackgroundMs * per / 1000).toFixed(1)} s on helper threads, ${(t.copiedBytes * per / 2 ** 20).toFixed(0)} MiB copied, ` +
    `${(t.allocatedBytes * per / 2 ** 20).toFixed(0)} MiB allocated; ${(t.markCompacts * per).toFixed(0)} mark-compacts: ${(t.markCompactPauseMs * per / 1000).toFixed(1)} s paused`)
}
