// Issue 19: group properties across instances. 200 users each send one
// `$groupidentify` for the same group (company / acme) at once, each setting
// its own property; their events spread over every partition of the input
// topic, so every instance consumes some of them. The group must end with all
// 200 properties: one instance owns the group (its partition of
// SLUICE_GROUPS_TOPIC) and applies every update. With two and with three
// instances, five times each, then once with the owner killed (-9) in the
// middle and a new instance started. One broker, one clickhouse-server.
import t from 'tap'
import { eventually, type EngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { startStack, type Stack } from '../harness/stack'

const DB = 'grp'
const USERS = 200

t.test('one group, 200 concurrent $groupidentify from 200 users: every property survives', async (t) => {
  const stack = await startStack({ database: DB })
  t.teardown(() => stack.close('SIGKILL'))
  const a = await stack.start()
  const b = await stack.start()

  /** The group's newest properties as the API serves them (through `via`), and as FINAL keeps them. */
  async function properties(via: EngineProcess, env: number): Promise<{ api: number; final: number }> {
    const g = await via.api('GET', `/api/environments/${env}/groups/0/acme`)
    const rows = await stack.store.query<{ p: string }>(`SELECT group_properties AS p FROM ${DB}.groups FINAL WHERE team_id = ${env} AND group_type_index = 0 AND group_key = 'acme'`)
    return { api: g.status === 200 ? Object.keys(g.body.group_properties as object).length : 0, final: rows.length > 0 ? Object.keys(JSON.parse(rows[0].p) as object).length : 0 }
  }

  /** A new project, its 200 `$groupidentify` events sent at once (keys spread them over every partition); returns the environment. */
  async function project(via: EngineProcess, name: string): Promise<{ id: number; api_token: string }> {
    return (await via.api('POST', '/api/projects', { name })).body.environments[0]
  }
  /** Users [from, to) send their `$groupidentify` at once (keys spread them over every partition). */
  async function send(env: { api_token: string }, from: number, to: number): Promise<void> {
    const users = Array.from({ length: to - from }, (_, i) => from + i)
    const values = users.map((i) => capturedMessage({
      token: env.api_token, distinct_id: `user-${i}`, event: '$groupidentify',
      properties: { $group_type: 'company', $group_key: 'acme', $group_set: { [`from_user_${i}`]: i } },
    }))
    await stack.producer.send('events_plugin_ingestion', values, (i) => `${env.api_token}:user-${users[i]}`)
  }
  async function burst(via: EngineProcess, name: string): Promise<number> {
    const env = await project(via, name)
    await send(env, 0, USERS)
    return env.id
  }

  async function settles(t: { ok: (v: unknown, m: string) => void; equal: (a: unknown, b: unknown, m: string) => void; comment: (m: string) => void }, via: EngineProcess, env: number, what: string): Promise<void> {
    const done = await eventually(async () => { const p = await properties(via, env); return p.api === USERS && p.final === USERS }, 90_000)
    t.ok(done, `${what}: the group holds all ${USERS} properties (API and FINAL)`)
    if (!done) t.comment(JSON.stringify(await properties(via, env)))
    // the events' rows and the group's are written independently (the group by its owner): either may land first.
    // FINAL: a batch the killed owner inserted but never committed is redelivered and inserted again (at least
    // once); events is a ReplacingMergeTree keyed by uuid, so queries read it FINAL until the copies merge
    const stored = async () => Number((await stack.store.query<{ n: string }>(`SELECT count() AS n FROM ${DB}.events FINAL WHERE team_id = ${env} AND event = '$groupidentify'`))[0].n)
    const events = await eventually(async () => (await stored()) === USERS, 30_000)
    t.ok(events, `${what}: one $groupidentify row per event`)
    if (!events) t.comment(`rows: ${await stack.count(`team_id = ${env} AND event = '$groupidentify'`)}, FINAL: ${await stored()}`)
  }

  const owners = async (_s: Stack, instances: EngineProcess[]) => Promise.all(instances.map((e) => e.metric('sluice_group_partitions')))
  const ready = await eventually(async () => (await owners(stack, [a, b])).every((n) => n > 0) && /partitions assigned/.test(a.logs()) && /partitions assigned/.test(b.logs()), 60_000)
  t.ok(ready, 'both instances own group-update partitions and input partitions')

  for (let run = 1; run <= 5; run++) await settles(t, b, await burst(a, `two-${run}`), `two instances, run ${run}`)
  const consumed = await Promise.all([a, b].map((e) => e.metric('sluice_messages_consumed_total')))
  t.ok(consumed.every((n) => n > 0), `both instances consumed $groupidentify events (${consumed.join(', ')})`)

  const c = await stack.start()
  const three = await eventually(async () => (await owners(stack, [a, b, c])).every((n) => n > 0), 60_000)
  t.ok(three, 'the third instance owns group-update partitions too')
  const applied = () => Promise.all([a, b, c].map((e) => e.metric('sluice_group_updates_applied_total')))
  let before = await applied()
  let after = before
  for (let run = 1; run <= 5; run++) {
    before = await applied()
    await settles(t, c, await burst(b, `three-${run}`), `three instances, run ${run}`)
    after = await applied()
  }
  const partitions = await owners(stack, [a, b, c])
  t.equal(partitions.reduce((x, y) => x + y, 0), 4, 'each of the 4 update-topic partitions has exactly one owner')
  const writers = after.map((n, i) => n - before[i]).filter((n) => n > 0)
  t.equal(writers.length, 1, 'one instance alone applied the last run\'s updates of the group')

  // the update topic's lag: each partition reported by its owner alone (a moved partition's series leaves
  // the previous owner), all at 0 once applied; each instance's readiness names its group-update consumer
  const lagOwners = await eventually(async () => {
    const series = await Promise.all([a, b, c].map(async (e) => {
      const text = await (await fetch(e.adminUrl + '/metrics')).text()
      return [...text.matchAll(/^sluice_group_updates_lag_messages\{partition="(\d+)"\} (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])] as const)
    }))
    const all = series.flat()
    const partitionsReported = all.map(([p]) => p).sort()
    return partitionsReported.join(',') === '0,1,2,3' && all.every(([, lag]) => lag === 0) ? series : undefined
  }, 30_000)
  t.ok(lagOwners, 'group-update lag: one series per update-topic partition across the instances, all at 0')
  for (const e of [a, b, c]) {
    const ready = await (await fetch(e.adminUrl + '/readyz')).json() as { ok: boolean; checks: Record<string, { ok: boolean; detail: string }> }
    t.equal(ready.checks.group_consumer?.ok, true, `readyz: group_consumer ok (${ready.checks.group_consumer?.detail})`)
  }

  // kill -9 the owner of acme's partition in the middle of a burst: half the users sent, some applied;
  // the other half is sent while the partition has no owner (until the killed member's session expires)
  const owner = [a, b, c][after.findIndex((n, i) => n > before[i])]
  const survivor = [a, b, c].find((e) => e !== owner)!
  const env = await project(survivor, 'killed')
  await send(env, 0, USERS / 2)
  await eventually(async () => (await properties(survivor, env.id)).api > 0, 30_000, 20)
  owner.child.kill('SIGKILL')
  await new Promise((r) => owner.child.once('exit', r))
  t.comment(`owner killed with ${(await properties(survivor, env.id)).api} of ${USERS} properties written`)
  await send(env, USERS / 2, USERS)
  const d = await stack.start()
  await settles(t, d, env.id, 'after kill -9 of the owner and a restart')
})
