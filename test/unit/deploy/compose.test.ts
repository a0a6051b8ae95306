// deploy/compose.yaml cannot run here (no Docker), so its contract with the
// code is checked instead: every SLUICE_* variable it sets exists in
// config/schema.ts, and the ClickHouse config it mounts into every
// clickhouse-server defines the cluster Sluice is given
// (SLUICE_CLICKHOUSE_CLUSTER), with the hosts Sluice connects to among its
// replicas and {shard}/{replica} macros on each node.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { VARIABLES } from '../../../config/schema'

const DEPLOY = path.join(__dirname, '../../../../deploy')
const compose = fs.readFileSync(path.join(DEPLOY, 'compose.yaml'), 'utf8')

/** `KEY: value` lines of the file's environment maps (YAML anchors and merges included), as written. */
function sluiceSettings(text: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = []
  for (const m of text.matchAll(/^\s+(SLUICE_[A-Z0-9_]+):\s*(.*?)\s*$/gm)) out.push({ name: m[1], value: m[2].replace(/^"(.*)"$/, '$1') })
  return out
}

/** service name → the lines of its block (top-level `services:` entries indented by two spaces). */
function services(text: string): Map<string, string> {
  const out = new Map<string, string>()
  const body = text.split(/^services:\s*$/m)[1].split(/^\S/m)[0]
  for (const block of body.split(/^(?=  [\w-]+:\s*$)/m)) {
    const m = /^  ([\w-]+):\s*$/m.exec(block)
    if (m) out.set(m[1], block)
  }
  return out
}

const mounts = (block: string) => [...block.matchAll(/-\s*\.\/(\S+?):(\/etc\/clickhouse-server\/\S+?)(?::ro)?\s*$/gm)].map((m) => ({ file: path.join(DEPLOY, m[1]), target: m[2] }))

t.test('every SLUICE_* variable set in deploy/compose.yaml exists in the configuration schema', async (t) => {
  const known = new Set(VARIABLES.map((v) => v.name))
  const settings = sluiceSettings(compose)
  t.ok(settings.length >= 5, 'the file sets Sluice variables')
  for (const s of settings) t.ok(known.has(s.name), `${s.name} is in config/schema.ts`)
})

t.test('the ClickHouse config mounted into each node names the cluster Sluice is given', async (t) => {
  const clusters = new Set(sluiceSettings(compose).filter((s) => s.name === 'SLUICE_CLICKHOUSE_CLUSTER').map((s) => s.value))
  t.same([...clusters], ['sluice'], 'one cluster name for every instance')
  const cluster = [...clusters][0]
  const urls = sluiceSettings(compose).filter((s) => s.name === 'SLUICE_CLICKHOUSE_URL').map((s) => new URL(s.value).hostname)
  const svc = services(compose)
  const nodes = [...svc].filter(([, block]) => /image:\s*clickhouse\/clickhouse-server/.test(block))
  t.ok(nodes.length >= 2, 'at least two ClickHouse nodes')
  for (const host of urls) t.ok(nodes.some(([name]) => name === host), `Sluice's ClickHouse URL host ${host} is a ClickHouse service`)
  const shards = new Set<string>()
  const replicas = new Set<string>()
  for (const [name, block] of nodes) {
    const files = mounts(block)
    t.ok(files.every((f) => f.target.startsWith('/etc/clickhouse-server/config.d/')), `${name}: configs go to config.d`)
    const xml = files.map((f) => fs.readFileSync(f.file, 'utf8')).join('\n')
    const remote = /<remote_servers>([\s\S]*?)<\/remote_servers>/.exec(xml)?.[1] ?? ''
    const def = new RegExp(`<${cluster}>([\\s\\S]*?)</${cluster}>`).exec(remote)?.[1]
    t.ok(def, `${name}: remote_servers defines cluster ${cluster}`)
    const hosts = [...(def ?? '').matchAll(/<host>([^<]+)<\/host>/g)].map((m) => m[1])
    t.ok(hosts.includes(name), `${name} is a replica of ${cluster}`)
    for (const h of urls) t.ok(hosts.includes(h), `${h} (a Sluice URL) is a replica of ${cluster}`)
    t.match(xml, /<zookeeper>[\s\S]*<host>keeper<\/host>/, `${name}: Keeper configured`)
    const shard = /<macros>[\s\S]*<shard>([^<]+)<\/shard>/.exec(xml)?.[1]
    const replica = /<macros>[\s\S]*<replica>([^<]+)<\/replica>/.exec(xml)?.[1]
    t.ok(shard && replica, `${name}: {shard} and {replica} macros`)
    shards.add(shard!)
    t.notOk(replicas.has(replica!), `${name}: {replica} is unique across the cluster`)
    replicas.add(replica!)
  }
  t.equal(shards.size, (/<remote_servers>[\s\S]*<\/remote_servers>/.exec(fs.readFileSync(path.join(DEPLOY, 'clickhouse/cluster.xml'), 'utf8'))?.[0].match(/<shard>/g) ?? []).length, 'one node per shard, as remote_servers lists them')
  t.ok(svc.has('keeper') && svc.has('kafka') && svc.has('prometheus') && svc.has('grafana'), 'Keeper, Kafka, Prometheus and Grafana are in the stack')
  t.match(svc.get('kafka') ?? '', /KAFKA_PROCESS_ROLES:\s*broker,controller/, 'Kafka in KRaft mode')
})
