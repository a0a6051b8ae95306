// Resource readings of other processes from Linux /proc, for the benchmark:
// CPU time (utime + stime of every thread of the process, so piscina workers
// count with the engine), peak resident memory (VmHWM) and the machine-wide
// CPU counters (to show how busy the shared box was during a phase).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return n > 0 ? n : 100
  } catch {
    return 100
  }
}

const CLK_TCK = clockTicks()

/** User + system CPU seconds of a process and all its threads; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // the command name (field 2) may contain spaces and parentheses: count fields after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

/** Peak resident set size (VmHWM) in bytes; undefined once the process is gone. */
export function peakRssBytes(pid: number): number | undefined {
  let status: string
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const m = /^VmHWM:\s+(\d+) kB/m.exec(status)
  return m ? Number(m[1]) * 1024 : undefined
}

/** Machine-wide CPU seconds: busy (everything but idle and iowait) and total, summed over cores. */
export function systemCpu(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = v[3] + v[4]
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK }
}

/** Sum over pids, skipping those already gone. */
export function sumOf(pids: readonly number[], read: (pid: number) => number | undefined): number {
  let s = 0
  for (const pid of pids) s += read(pid) ?? 0
  return s
}
