// This thread's OS id (Linux: /proc/thread-self links to `<pid>/task/<tid>`),
// which a worker reports with its answers so that the main thread can tell
// the workers' CPU time from the runtime's helper threads
// (engine/status/thread-cpu.ts). Undefined where /proc is not.
import fs from 'node:fs'

export function currentThreadId(): number | undefined {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop())
    return Number.isInteger(tid) ? tid : undefined
  } catch {
    return undefined
  }
}
