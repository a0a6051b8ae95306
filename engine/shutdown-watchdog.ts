// The shutdown deadline's last resort. The deadline in main.ts is a timer on
// the main thread, and a native call can hold that thread forever: a
// node-rdkafka disconnect now and then spins in libuv's uv_close (seen in the
// bench and in CI, where a SIGTERMed engine never exited). A worker thread
// has its own event loop, so it still runs then, and kills the process.
import { Worker } from 'node:worker_threads'

/** after the main-thread deadline: it has this long to exit with its own log line first */
export const WATCHDOG_GRACE_MS = 2_000

export function startShutdownWatchdog(afterMs: number): void {
  const source = `
    setTimeout(() => {
      require('node:fs').writeSync(2, 'sluice: the main thread did not exit ${afterMs} ms after the stop signal (blocked in native code); killing the process\\n')
      process.kill(process.pid, 'SIGKILL')
    }, ${Math.max(0, Math.floor(afterMs))})`
  new Worker(source, { eval: true }).unref()
}
