// Starts a private, real ClickHouse server (Debian's clickhouse-server
// package) on free loopback ports with a temporary data directory, for tests
// and benchmarks. The packaged config is copied and its paths and ports are
// rewritten (../shared/INFRA.md). stop()/start() keep the data, so fault tests
// can take the server away and bring it back; destroy() removes everything.
import { spawn, ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export const CLICKHOUSE_BINARY = process.env.CLICKHOUSE_SERVER_BIN ?? '/usr/sbin/clickhouse-server'
const PACKAGED_CONFIG = '/etc/clickhouse-server'

/**
 * jemalloc's options for the server, as README › "ClickHouse's allocator"
 * recommends to operators: Debian's 18.16 links the system's jemalloc 5.3,
 * whose allocations over 8 MiB (an insert's column arrays) come from an arena
 * that returns its pages to the kernel on free, so every insert faults in
 * fresh memory (ten 20,000-row `events` inserts: 440,000 page faults and
 * 8.3–11 CPU-s; with this, 145,000 and 3.6). CLICKHOUSE_MALLOC_CONF='' runs
 * jemalloc's defaults instead.
 */
export const CLICKHOUSE_MALLOC_CONF = process.env.CLICKHOUSE_MALLOC_CONF ?? 'oversize_threshold:0'

export interface ClickHouseServer {
  readonly url: string
  readonly httpPort: number
  /** the native protocol's port (clickhouse-client) */
  readonly tcpPort: number
  readonly dir: string
  /** the server's pid, or undefined while stopped */
  pid(): number | undefined
  /**
   * `forceRestoreData`: start as an operator restarts a replica that was
   * killed (flags/force_restore_data): a part written locally but not yet
   * registered in ZooKeeper otherwise stops the server when it holds most of a
   * small table's rows ("The local set of parts … doesn't look like the set
   * of parts in ZooKeeper", exit code 70)
   */
  start(o?: { forceRestoreData?: boolean }): Promise<void>
  stop(signal?: NodeJS.Signals): Promise<void>
  destroy(): Promise<void>
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

/** For a cluster node (test/harness/clickhouse-cluster.ts): fixed ports, replication's interserver port, and a config.d file. */
export interface ClickHouseServerOptions {
  httpPort?: number
  tcpPort?: number
  /** replicas fetch parts from each other over this port (on 127.0.0.1) */
  interserverPort?: number
  /** written as config.d/extra.xml: <zookeeper>, <macros>, <remote_servers> */
  extraConfig?: string
  /** written as users.d/extra.xml: profile settings (the bench's log_queries) */
  extraUsers?: string
}

function writeConfig(dir: string, httpPort: number, tcpPort: number, opts: ClickHouseServerOptions = {}): string {
  let xml = fs.readFileSync(path.join(PACKAGED_CONFIG, 'config.xml'), 'utf8')
  xml = xml
    .replaceAll('/var/lib/clickhouse/', `${dir}/data/`)
    .replaceAll('/var/log/clickhouse-server/', `${dir}/log/`)
    .replace(/<http_port>\d+<\/http_port>/, `<http_port>${httpPort}</http_port>`)
    .replace(/<tcp_port>\d+<\/tcp_port>/, `<tcp_port>${tcpPort}</tcp_port>`)
    .replace(/<interserver_http_port>\d+<\/interserver_http_port>/, opts.interserverPort ? `<interserver_http_port>${opts.interserverPort}</interserver_http_port>` : '')
    .replace(/<listen_host>::1<\/listen_host>/, '')
    .replace(/<level>\w+<\/level>/, '<level>warning</level>')
  const file = path.join(dir, 'config.xml')
  fs.writeFileSync(file, xml)
  fs.copyFileSync(path.join(PACKAGED_CONFIG, 'users.xml'), path.join(dir, 'users.xml'))
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'log'), { recursive: true })
  if (opts.extraConfig) {
    fs.mkdirSync(path.join(dir, 'config.d'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'config.d', 'extra.xml'), opts.extraConfig)
  }
  if (opts.extraUsers) {
    fs.mkdirSync(path.join(dir, 'users.d'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'users.d', 'extra.xml'), opts.extraUsers)
  }
  return file
}

/** The last messages of a server's error log (stack frames left out), so a failed start says why. */
function errorLogTail(dir: string, lines = 4): string {
  try {
    const all = fs.readFileSync(path.join(dir, 'log', 'clickhouse-server.err.log'), 'utf8').trimEnd().split('\n')
    return all.filter((l) => !/^\d+\. /.test(l)).slice(-lines).map((l) => l.slice(0, 600)).join('\n')
  } catch { return '(no error log)' }
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, dir: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`clickhouse-server exited with code ${child.exitCode} before it was ready:\n${errorLogTail(dir)}`)
    try {
      const res = await fetch(`${url}/ping`)
      if (res.ok && (await res.text()).startsWith('Ok')) return
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`clickhouse-server not ready within ${timeoutMs} ms`)
}

export async function startClickHouseServer(opts: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
  if (!fs.existsSync(CLICKHOUSE_BINARY)) {
    throw new Error(`${CLICKHOUSE_BINARY} is missing: install Debian's clickhouse-server (bash .ci/run does)`)
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ch-'))
  const httpPort = opts.httpPort ?? await freePort()
  const tcpPort = opts.tcpPort ?? await freePort()
  const configFile = writeConfig(dir, httpPort, tcpPort, opts)
  const url = `http://127.0.0.1:${httpPort}`
  let child: ChildProcess | undefined
  const killOnExit = () => { child?.kill('SIGKILL') }
  process.once('exit', killOnExit)

  const server: ClickHouseServer = {
    url,
    httpPort,
    tcpPort,
    dir,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    async start(o: { forceRestoreData?: boolean } = {}) {
      if (o.forceRestoreData) {
        fs.mkdirSync(path.join(dir, 'data', 'flags'), { recursive: true })
        fs.writeFileSync(path.join(dir, 'data', 'flags', 'force_restore_data'), '')
      }
      // A server restarted right after a kill may find its ports still held for a moment and exit
      // (code 70, seen in the cluster test's replica restart): start it again rather than fail.
      for (let attempt = 1; ; attempt++) {
        child = spawn(CLICKHOUSE_BINARY, [`--config-file=${configFile}`], { cwd: dir, stdio: 'ignore', env: { ...process.env, MALLOC_CONF: CLICKHOUSE_MALLOC_CONF } })
        try {
          await waitReady(url, child, 30_000, dir)
          return
        } catch (err) {
          if (child.exitCode === null || attempt >= 8) throw err
          process.stderr.write(`clickhouse-server start attempt ${attempt} failed, trying again: ${(err as Error).message}\n`)
          await new Promise((r) => setTimeout(r, 1_000 * attempt))
        }
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const c = child
      if (!c || c.exitCode !== null || c.signalCode !== null) return
      const exited = new Promise<void>((r) => c.once('exit', () => r()))
      c.kill(signal)
      const hard = setTimeout(() => c.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(hard)
    },
    async destroy() {
      await server.stop()
      process.removeListener('exit', killOnExit)
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
  await server.start()
  return server
}
