// CPU time of the process's threads by kind, from Linux's /proc/self/task:
// the main thread, the worker threads (their OS thread ids arrive with their
// answers: workers/index.ts), librdkafka's threads (named `rdk:*`), and the
// runtime's own (V8's garbage-collection and compiler helpers, libuv's pool).
// process.cpuUsage() sums them all; this split is what showed that persons
// cost as much in the garbage collector's threads as on the main thread.
// Threads that ended (a replaced worker) no longer count.
import fs from 'node:fs'

export type ThreadKind = 'main' | 'workers' | 'kafka' | 'runtime'

/** Clock ticks per second of /proc's utime and stime: 100 on Linux (USER_HZ). */
const TICKS = 100

/** CPU seconds since each live thread started, summed by kind; undefined without /proc. */
export function threadCpuSeconds(workerTids: ReadonlySet<number>): Record<ThreadKind, number> | undefined {
  let tasks: string[]
  try {
    tasks = fs.readdirSync('/proc/self/task')
  } catch {
    return undefined
  }
  const out: Record<ThreadKind, number> = { main: 0, workers: 0, kafka: 0, runtime: 0 }
  for (const t of tasks) {
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'latin1')
    } catch {
      continue // ended meanwhile
    }
    // `tid (comm) state …`: comm may hold spaces and parentheses, so fields are counted after the last ')'
    const close = stat.lastIndexOf(')')
    const comm = stat.slice(stat.indexOf('(') + 1, close)
    const f = stat.slice(close + 2).split(' ')
    const seconds = (Number(f[11]) + Number(f[12])) / TICKS // utime, stime: fields 14 and 15 of the whole line
    const tid = Number(t)
    const kind: ThreadKind = tid === process.pid ? 'main' : workerTids.has(tid) ? 'workers' : comm.startsWith('rdk:') ? 'kafka' : 'runtime'
    out[kind] += seconds
  }
  return out
}
