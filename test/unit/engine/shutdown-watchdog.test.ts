// The shutdown watchdog ends a process whose main thread is held by native
// code (here: a busy loop, as a spinning node-rdkafka disconnect would hold it).
import t from 'tap'
import { spawn } from 'node:child_process'
import path from 'node:path'

const WATCHDOG = path.join(__dirname, '..', '..', '..', 'engine', 'shutdown-watchdog.js')

t.test('a process whose main thread never returns is killed after the deadline, with a line saying why', async (t) => {
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(WATCHDOG)}).startShutdownWatchdog(300); for (;;) {}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, s) => resolve(s)))
  clearTimeout(guard)
  t.equal(signal, 'SIGKILL')
  t.match(stderr, /did not exit 300 ms after the stop signal/)
})

t.test('a process that exits in time is not held by the watchdog', async (t) => {
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(WATCHDOG)}).startShutdownWatchdog(60000); setTimeout(() => {}, 50)`], { stdio: 'ignore' })
  const started = Date.now()
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  t.equal(code, 0)
  t.ok(Date.now() - started < 30_000, 'it exits on its own, long before the watchdog would fire')
})
