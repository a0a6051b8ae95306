// The cluster topology of the cluster tests (issue 16): one ZooKeeper and
// three clickhouse-server 18.16 nodes on loopback, each with a generated
// config.d (zookeeper, macros, remote_servers):
//
//   cluster two_shards   shard 1: A          shard 2: B
//   cluster replicated   shard 1: A, C  (two replicas of one shard)
//
//   node  {shard}  {replica}
//   A     1        A
//   B     2        B
//   C     1        C
//
// A and C share shard 1 in both views, so one set of macros serves both
// clusters. internal_replication=true: a Distributed insert writes one
// replica per shard and the Replicated table copies it to the others.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { startClickHouseServer, freePort, type ClickHouseServer } from './clickhouse-server'
import { startZooKeeper, type ZooKeeper } from './zookeeper'

export type NodeName = 'A' | 'B' | 'C'

export interface ClusterNode {
  readonly name: NodeName
  readonly shard: number
  readonly tcpPort: number
  readonly server: ClickHouseServer
}

export interface ClickHouseCluster {
  readonly zookeeper: ZooKeeper
  readonly nodes: Record<NodeName, ClusterNode>
  /** the last lines of every node's error log, for failure messages */
  errorLogs(lines?: number): string
  destroy(): Promise<void>
}

interface Ports { http: number; tcp: number; interserver: number }

/**
 * A free port below Linux's ephemeral range (32768–60999). A node keeps its
 * ports across stop()/start() (the other nodes' remote_servers name them);
 * an ephemeral port released by a killed node is soon taken as the source
 * port of some outgoing connection on a busy machine, and the restarted node
 * then exits with code 70 (seen in the full suite).
 */
async function stablePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const ok = await new Promise<boolean>((resolve) => {
      const srv = net.createServer()
      srv.once('error', () => resolve(false))
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
    })
    if (ok) return port
  }
  return freePort()
}

const SHARD: Record<NodeName, number> = { A: 1, B: 2, C: 1 }

const replica = (tcp: number) => `<replica><host>127.0.0.1</host><port>${tcp}</port></replica>`

export function clusterConfig(node: NodeName, zk: { host: string; port: number }, ports: Record<NodeName, Ports>): string {
  return `<?xml version="1.0"?>
<yandex>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <zookeeper>
    <node><host>${zk.host}</host><port>${zk.port}</port></node>
    <session_timeout_ms>10000</session_timeout_ms>
  </zookeeper>
  <macros><shard>${SHARD[node]}</shard><replica>${node}</replica></macros>
  <remote_servers replace="replace">
    <two_shards>
      <shard><internal_replication>true</internal_replication>${replica(ports.A.tcp)}</shard>
      <shard><internal_replication>true</internal_replication>${replica(ports.B.tcp)}</shard>
    </two_shards>
    <replicated>
      <shard><internal_replication>true</internal_replication>${replica(ports.A.tcp)}${replica(ports.C.tcp)}</shard>
    </replicated>
  </remote_servers>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
`
}

export async function startClickHouseCluster(): Promise<ClickHouseCluster> {
  const zookeeper = await startZooKeeper()
  const names: NodeName[] = ['A', 'B', 'C']
  const ports = {} as Record<NodeName, Ports>
  for (const n of names) ports[n] = { http: await stablePort(), tcp: await stablePort(), interserver: await stablePort() }
  const started: ClickHouseServer[] = []
  try {
    // one at a time: three servers starting at once on two shared cores time out more often than they save
    for (const n of names) {
      started.push(await startClickHouseServer({
        httpPort: ports[n].http, tcpPort: ports[n].tcp, interserverPort: ports[n].interserver,
        extraConfig: clusterConfig(n, zookeeper, ports),
      }))
    }
  } catch (err) {
    for (const s of started) await s.destroy()
    await zookeeper.stop()
    throw err
  }
  const nodes = {} as Record<NodeName, ClusterNode>
  names.forEach((n, i) => { nodes[n] = { name: n, shard: SHARD[n], tcpPort: ports[n].tcp, server: started[i] } })
  return {
    zookeeper,
    nodes,
    errorLogs(lines = 30) {
      return names.map((n) => {
        const file = path.join(nodes[n].server.dir, 'log', 'clickhouse-server.err.log')
        // without the stack frames, which would crowd out the messages
        const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter((l) => l.trim() && !/^\d+\. \//.test(l.trim())).slice(-lines).join('\n') : '(no log)'
        return `== node ${n} (pid ${nodes[n].server.pid() ?? 'stopped'})\n${text}`
      }).join('\n')
    },
    async destroy() {
      for (const n of names) await nodes[n].server.destroy()
      await zookeeper.stop()
    },
  }
}
