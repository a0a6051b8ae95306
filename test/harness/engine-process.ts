// Runs `node dist/engine/main.js` as a separate process, as an operator
// would, with the given environment; waits for its "sluice started" log line
// and exposes its admin and capture URLs. Logs are kept for failure messages.
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

export const MAIN = path.join(__dirname, '..', '..', 'engine', 'main.js')
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef'
/** a stopped engine's own deadline (SLUICE_SHUTDOWN_TIMEOUT_MS, 30 s by default) and its watchdog come first; then the harness kills it */
const STOP_BOUND_MS = 45_000

export interface EngineProcess {
  readonly adminUrl: string
  /** the capture port's base URL (PostHog SDK host) */
  readonly captureUrl: string
  readonly adminToken: string
  readonly child: ChildProcess
  logs(): string
  /** an authenticated admin call */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  /** scraped /metrics value of one sample, e.g. sluice_events_dropped_total{reason="no_token"} (0 when absent) */
  metric(sample: string): Promise<number>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_')) env[k] = v
  return { ...env, SLUICE_ADMIN_PORT: '0', SLUICE_CAPTURE_PORT: '0', SLUICE_CAPTURE_HOST: '127.0.0.1', SLUICE_ADMIN_TOKEN: TEST_ADMIN_TOKEN, SLUICE_LOG_LEVEL: 'info', SLUICE_WORKERS: '1', SLUICE_INSERT_INTERVAL_MS: '200', ...extra }
}

/** `nodeArgs` go before the script (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
export async function startEngineProcess(env: NodeJS.ProcessEnv, timeoutMs = 60_000, nodeArgs: readonly string[] = []): Promise<EngineProcess> {
  const child = spawn(process.execPath, [...nodeArgs, MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d) => { out += d })
  child.stderr!.on('data', (d) => { out += d })
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  child.once('exit', () => process.removeListener('exit', killOnExit))

  const adminUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`engine did not start within ${timeoutMs} ms:\n${out}`)) }, timeoutMs)
    const check = () => {
      // the start-up text is printed whatever SLUICE_LOG_LEVEL is
      const m = /admin API\s+(http:\S+)[\s\S]*Try it:/.exec(out)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    }
    child.stdout!.on('data', check)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`engine exited with ${code} before starting:\n${out}`)) })
  })
  const captureUrl = /capture\s+(http:\S+)/.exec(out)?.[1] ?? ''
  // without SLUICE_ADMIN_TOKEN the engine generates one and prints it
  const token = env.SLUICE_ADMIN_TOKEN ?? /admin token\s+(sla_\S+)/.exec(out)?.[1] ?? ''
  return {
    adminUrl,
    captureUrl,
    adminToken: token,
    child,
    logs: () => out,
    async api(method, p, body) {
      const res = await fetch(adminUrl + p, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await res.text()
      return { status: res.status, body: text ? JSON.parse(text) : undefined }
    },
    async metric(sample) {
      const text = await (await fetch(adminUrl + '/metrics')).text()
      for (const line of text.split('\n')) if (line.startsWith(sample + ' ')) return Number(line.slice(sample.length + 1))
      return 0
    },
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
      return new Promise((resolve) => {
        // the engine's own watchdog kills it when its main thread hangs on the way out; this is the harness's bound beyond that
        const hung = setTimeout(() => child.kill('SIGKILL'), STOP_BOUND_MS)
        child.once('exit', (code) => { clearTimeout(hung); resolve(code) })
        child.kill(signal)
      })
    },
  }
}

/** Polls `fn` until it returns a truthy value or the timeout passes (then returns the last value). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn().catch(() => undefined as T)
    if (v || Date.now() > deadline) return v
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
