// Starts a private ZooKeeper (Debian's `zookeeper` package, 3.8) from its
// Java main on a free loopback port with a temporary data directory: what
// Replicated tables and ON CLUSTER DDL of a ClickHouse cluster coordinate
// through (test/harness/clickhouse-cluster.ts). test/run.sh installs the
// package when absent. No systemd: `java -cp … QuorumPeerMain zoo.cfg`.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { freePort } from './clickhouse-server'

export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar'
const JAVA = process.env.JAVA_BIN ?? '/usr/bin/java'

export interface ZooKeeper {
  readonly host: string
  readonly port: number
  stop(): Promise<void>
}

/**
 * `srvr` names the server's mode once it serves sessions. Not `ruok`: it
 * answers `imok` a moment before sessions are accepted, and a ClickHouse
 * 18.16 node whose first handshake is refused then never reconnects its DDL
 * worker and crashes (NULL pointer in zkutil::ZooKeeper::createImpl) at its
 * first ON CLUSTER statement.
 */
function serving(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1')
    let answer = ''
    sock.setTimeout(1_000, () => sock.destroy())
    sock.on('connect', () => sock.write('srvr'))
    sock.on('data', (d) => { answer += d })
    sock.on('error', () => resolve(false))
    sock.on('close', () => resolve(/^Mode: standalone$/m.test(answer)))
  })
}

export async function startZooKeeper(timeoutMs = 30_000): Promise<ZooKeeper> {
  if (!fs.existsSync(ZOOKEEPER_JAR)) throw new Error(`${ZOOKEEPER_JAR} is missing: install Debian's zookeeper and default-jre-headless (bash test/run.sh does)`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-zk-'))
  const port = await freePort()
  fs.writeFileSync(path.join(dir, 'zoo.cfg'), [
    // sessions may last 2–20 ticks: ClickHouse asks for 10 s (clickhouse-cluster.ts), which is how long a
    // killed replica's old session blocks its return
    'tickTime=1000', 'initLimit=10', 'syncLimit=5', `dataDir=${dir}/data`,
    `clientPort=${port}`, 'clientPortAddress=127.0.0.1', 'maxClientCnxns=0',
    // a test's data need not survive a crash, and on a busy shared disk an fsync per write stalled
    // ZooKeeper long enough for ClickHouse 18.16 to lose its session (and then crash in createImpl)
    'forceSync=no',
    // the embedded admin server would take port 8080
    'admin.enableServer=false', '4lw.commands.whitelist=ruok,srvr',
  ].join('\n') + '\n')
  const child: ChildProcess = spawn(JAVA, ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `/etc/zookeeper/conf:${ZOOKEEPER_JAR}`,
    'org.apache.zookeeper.server.quorum.QuorumPeerMain', path.join(dir, 'zoo.cfg')], { cwd: dir, stdio: 'ignore' })
  const killOnExit = () => { child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill('SIGTERM')
      await exited
    }
    process.removeListener('exit', killOnExit)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + timeoutMs
  while (!(await serving(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`ZooKeeper did not serve within ${timeoutMs} ms`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return { host: '127.0.0.1', port, stop }
}
