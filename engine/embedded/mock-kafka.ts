// librdkafka's built-in mock cluster: a real Kafka-protocol broker on
// loopback, held alive by one idle producer. In memory only: everything is
// gone when its process ends (dev/demo, tests and benchmarks; see
// ../shared/INFRA.md for its limits).
//
// The holder lives in a child process of its own (mock-kafka-main.ts), so
// stopping it is a kill and never a disconnect in this process: a
// node-rdkafka disconnect of the holder, which logs at debug level, span
// forever in libuv's uv_close now and then (seen in the bench and in a test's
// teardown), freezing the whole process. The child leaves when its parent
// does, kill -9 included (its IPC channel closes), and not before: it has a
// process group of its own, so a terminal's Ctrl-C reaches only the engine,
// which drains into the broker before it stops it. It runs without the
// parent's node flags (a test runner's loaders held its IPC).
import { fork } from 'node:child_process'
import { join } from 'node:path'

export interface MockKafkaCluster {
  readonly bootstrapServers: string
  stop(): Promise<void>
}

/** What the holder process tells its parent. */
export type MockKafkaMessage =
  | { kind: 'ready'; bootstrapServers: string }
  | { kind: 'log'; message: string }
  | { kind: 'failed'; error: string }

/** librdkafka's mock has crashed its process (SIGSEGV/SIGABRT) within its first second about once in a few hundred starts: such a start is tried again */
const STARTS = 3

/** `onMockLog`: every later line of the mock's own log (facility MOCK), e.g. for when a consumer group becomes stable (bench/mock-cluster.ts). */
export async function startMockKafkaCluster(brokers = 1, timeoutMs = 15_000, onMockLog?: (message: string) => void): Promise<MockKafkaCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startHolder(brokers, timeoutMs, onMockLog)
    } catch (err) {
      if (!(err instanceof HolderDied) || attempt === STARTS) throw err
    }
  }
}

class HolderDied extends Error {}

function startHolder(brokers: number, timeoutMs: number, onMockLog?: (message: string) => void): Promise<MockKafkaCluster> {
  const child = fork(join(__dirname, 'mock-kafka-main.js'), [String(brokers), onMockLog ? 'logs' : ''], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [], detached: true })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  return new Promise((resolve, reject) => {
    let settled = false
    const fail = (why: string, died = false) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void stop()
      reject(new (died ? HolderDied : Error)(`mock Kafka cluster: ${why}`))
    }
    const timer = setTimeout(() => fail(`did not report its address within ${timeoutMs} ms`), timeoutMs)
    child.on('message', (m: MockKafkaMessage) => {
      if (m.kind === 'log') return onMockLog?.(m.message)
      if (m.kind === 'failed') return fail(m.error)
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({ bootstrapServers: m.bootstrapServers, stop })
    })
    child.once('exit', (code, signal) => fail(`its process exited (${signal ?? code}) before reporting an address`, true))
  })
}
