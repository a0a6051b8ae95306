// Issue 17 from outside, on two engine processes (A and B) sharing one broker
// and one ClickHouse server: several SDK keys per environment, rotation with
// and without a grace period, admin keys with scopes (every documented route
// called with every kind of scope), the audit trail, and the wrong-token
// limiter. The limiter's block is 3 s here instead of 60 (SLUICE_ADMIN_AUTH_BLOCK_SECONDS).
import t from 'tap'
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { OPENAPI } from '../../engine/http/openapi'
import { eventually, type EngineProcess } from '../harness/engine-process'
import { capturedMessage } from '../harness/events'
import { startStack } from '../harness/stack'

const TOPIC = 'events_plugin_ingestion'

/**
 * An admin call with another bearer token (an admin key's secret, or a wrong
 * one); `raw` is sent as the body text. `from` is the client's own loopback
 * address: the limiter counts per address, so the limiter's test comes from
 * one no other test uses.
 */
function callAs(inst: EngineProcess, bearer: string, method: string, path: string, body?: unknown, raw?: string, from = '127.0.0.1') {
  const text = raw ?? (body === undefined ? undefined : JSON.stringify(body))
  return new Promise<{ status: number; body: any; retryAfter: string | undefined }>((resolve, reject) => {
    const req = http.request(inst.adminUrl + path, {
      method, localAddress: from, agent: false,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...(text === undefined ? {} : { 'content-length': Buffer.byteLength(text) }) },
    }, (res) => {
      let answer = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { answer += d })
      res.on('end', () => resolve({ status: res.statusCode!, body: answer ? JSON.parse(answer) : undefined, retryAfter: res.headers['retry-after'] }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(text)
  })
}
const LIMITER_CLIENT = '127.0.0.7'

t.test('keys and access on two instances', async (t) => {
  const stack = await startStack({ database: 'keys', env: { SLUICE_ADMIN_AUTH_BLOCK_SECONDS: '3' } })
  t.teardown(() => stack.close('SIGKILL'))
  const a = await stack.start()
  const b = await stack.start()
  t.ok(await eventually(async () => /partitions assigned/.test(a.logs()) && /partitions assigned/.test(b.logs()), 30_000), 'both instances hold partitions')
  const send = (token: string, prefix: string, n: number, event = prefix) =>
    stack.producer.send(TOPIC, Array.from({ length: n }, (_, i) => capturedMessage({ token, distinct_id: `${prefix}-${i}`, event })), () => randomUUID())
  const landed = (prefix: string) => stack.count(`distinct_id LIKE '${prefix}-%'`)
  const invalid = async () => [await a.metric('sluice_events_dropped_total{reason="invalid_token"}'), await b.metric('sluice_events_dropped_total{reason="invalid_token"}')]
  const droppedSince = async (before: number[], n: number) => eventually(async () => {
    const now = await invalid()
    return now[0] + now[1] - before[0] - before[1] === n ? now : undefined
  }, 15_000)

  const P = (await a.api('POST', '/api/projects', { name: 'Shop' })).body
  const prodToken: string = P.environments[0].api_token
  const Q = (await a.api('POST', '/api/projects', { name: 'Blog' })).body
  const qEnv: number = Q.environments[0].id

  t.test('two keys on one environment both ingest; deleting one drops its events on both instances while the other lands', async (t) => {
    const listed = (await a.api('GET', `/api/environments/${P.id}/keys`)).body.results
    t.same(listed.map((k: { name: string; primary: boolean; api_token: string }) => [k.name, k.primary, k.api_token]), [['Primary', true, prodToken]], 'the environment\'s api_token is its primary key')
    const ios = await a.api('POST', `/api/environments/${P.id}/keys`, { name: 'iOS app' })
    t.equal(ios.status, 201)
    t.match(ios.body, { name: 'iOS app', primary: false, environment_id: P.id })
    await send(prodToken, 'two-primary', 50)
    await send(ios.body.api_token, 'two-ios', 50)
    t.ok(await eventually(async () => (await landed('two-primary')) === 50 && (await landed('two-ios')) === 50, 30_000), 'both keys\' events landed')
    t.ok(await eventually(async () => (await a.metric(`sluice_events_by_key_total{key_id="${ios.body.id}"}`)) + (await b.metric(`sluice_events_by_key_total{key_id="${ios.body.id}"}`)) === 50, 5_000), 'events are counted per key id')
    t.notMatch(await (await fetch(a.adminUrl + '/metrics')).text(), ios.body.api_token, '/metrics carries no token')

    const deleted = await b.api('DELETE', `/api/environments/${P.id}/keys/${ios.body.id}`)
    t.equal(deleted.status, 204)
    const started = Date.now()
    const goneOnA = await eventually(async () => (await a.api('GET', `/api/environments/${P.id}/keys`)).body.results.length === 1, 1_000, 10)
    t.ok(goneOnA, 'A no longer lists the key within 1 s of B answering')
    t.comment(`deletion on B visible on A after ${Date.now() - started} ms`)
    const before = await invalid()
    await send(ios.body.api_token, 'gone-ios', 60)
    await send(prodToken, 'still-primary', 60)
    t.ok(await eventually(async () => (await landed('still-primary')) === 60, 30_000), 'the other key still lands')
    const after = await droppedSince(before, 60)
    t.ok(after, 'all 60 events of the deleted key were dropped as invalid_token')
    t.ok(after && after[0] > before[0] && after[1] > before[1], 'both instances dropped some of them (each consumes its own partitions)')
    t.equal(await landed('gone-ios'), 0)
    t.equal((await a.api('POST', `/api/environments/${P.id}/keys`, { name: 'again', api_token: ios.body.api_token })).status, 409, 'a revoked token is never reused')
    t.equal((await a.api('DELETE', `/api/environments/${P.id}/keys/${listed[0].id}`)).body.error.code, 'SLUICE_ERR_CONFLICT', 'the primary key is rotated, not deleted')
    t.equal((await a.api('DELETE', `/api/environments/${P.id}/keys/999`)).body.error.code, 'SLUICE_ERR_KEY_NOT_FOUND')
  })

  t.test('rotation with grace_seconds 5: the old token lands until the deadline, then is dropped on both instances; with 0, at once', async (t) => {
    const env = (await a.api('POST', `/api/projects/${P.id}/environments`, { name: 'Mobile' })).body
    const old: string = env.api_token
    const rotatedAt = Date.now()
    const rotated = await b.api('POST', `/api/environments/${env.id}/rotate_token`, { grace_seconds: 5 })
    t.equal(rotated.status, 200)
    t.not(rotated.body.api_token, old, 'the new token is primary at once')
    const keys = (await a.api('GET', `/api/environments/${env.id}/keys`)).body.results
    t.ok(keys[0].previous_token_revoked_at, 'A knows the deadline')
    await send(old, 'grace-in', 40)
    await send(rotated.body.api_token, 'grace-new', 40)
    t.ok(await eventually(async () => (await landed('grace-in')) === 40 && (await landed('grace-new')) === 40, 30_000), 'during the grace period both tokens land')
    const expiredEverywhere = await eventually(async () => {
      for (const inst of [a, b]) if ((await inst.api('GET', `/api/environments/${env.id}/keys`)).body.results[0].previous_token_revoked_at !== null) return false
      return true
    }, 20_000, 50)
    t.ok(expiredEverywhere, 'both instances ended the grace period')
    const took = Date.now() - rotatedAt
    t.ok(took >= 5_000, 'not before the deadline')
    t.comment(`old token revoked on both instances ${took} ms after the rotation (grace 5000 ms)`)
    const before = await invalid()
    await send(old, 'grace-out', 40)
    await send(rotated.body.api_token, 'grace-new2', 40)
    t.ok(await eventually(async () => (await landed('grace-new2')) === 40, 30_000))
    t.ok(await droppedSince(before, 40), 'after the grace period the old token is dropped')
    t.equal(await landed('grace-out'), 0)

    const now = (await a.api('POST', `/api/environments/${env.id}/rotate_token`, { grace_seconds: 0 })).body.api_token
    const before0 = await invalid()
    await send(rotated.body.api_token, 'zero-old', 30)
    await send(now, 'zero-new', 30)
    t.ok(await eventually(async () => (await landed('zero-new')) === 30, 30_000))
    t.ok(await droppedSince(before0, 30), 'with grace 0 the old token is dropped at once')
    t.equal((await a.api('POST', `/api/environments/${env.id}/rotate_token`, { grace_seconds: -1 })).body.error.field, 'grace_seconds')
  })

  t.test('scoped admin keys: every documented route with every kind of scope', async (t) => {
    const scratch = (await a.api('POST', `/api/projects/${P.id}/environments`, { name: 'Scratch' })).body
    const kinds = [
      { name: 'read everything', scope: { access: 'read' }, on: 'all' },
      { name: 'write everything', scope: { access: 'write' }, on: 'all' },
      { name: 'read project', scope: { access: 'read', projects: [P.id] }, on: 'project' },
      { name: 'write project', scope: { access: 'write', projects: [P.id] }, on: 'project' },
      { name: 'read environment', scope: { access: 'read', environments: [scratch.id] }, on: 'environment' },
      { name: 'write environment', scope: { access: 'write', environments: [scratch.id] }, on: 'environment' },
    ] as const
    const secrets: string[] = []
    for (const kind of kinds) {
      const created = await a.api('POST', '/api/admin_keys', { name: kind.name, scopes: [kind.scope] })
      t.equal(created.status, 201)
      t.match(created.body.secret, /^slk_/)
      secrets.push(created.body.secret)
    }
    const listedKeys = await b.api('GET', '/api/admin_keys')
    t.same(listedKeys.body.results.map((k: { name: string }) => k.name), kinds.map((k) => k.name), 'B lists them')
    t.notMatch(JSON.stringify(listedKeys.body), /slk_|hash|salt/, 'without secrets')

    // The oracle, from the rules rather than from the code: reads of lists and of this instance are open to every key;
    // a write needs `write`; admin keys and new projects need the right on everything; an environment key reads its project read-only.
    const expectAllowed = (on: string, access: string, method: string, path: string, inScope: boolean) => {
      const write = method !== 'GET'
      if (write && access === 'read') return false
      if (!write && ['/api/openapi.json', '/api/status', '/api/projects', '/api/audit'].includes(path)) return true
      if (path.startsWith('/api/admin_keys') || path === '/api/projects') return on === 'all'
      if (on === 'all') return true
      if (!inScope) return false
      if (path.startsWith('/api/projects/{id}')) return !write || on === 'project'
      return true
    }
    const fill = (path: string, inScope: boolean) => path
      .replace('/api/environments/{id}', `/api/environments/${inScope ? scratch.id : qEnv}`)
      .replace('/api/projects/{id}', `/api/projects/${inScope ? P.id : Q.id}`)
      .replace('/api/admin_keys/{id}', '/api/admin_keys/999')
      .replace('{key_id}', '999').replace('{group_type_index}', '0').replace('{group_key}', 'g').replace('{person_id}', randomUUID())
    let calls = 0
    const wrong: string[] = []
    // DELETE last: the scratch environment goes with the first allowed one, later ones answer 404 (not 403)
    const routes = Object.entries(OPENAPI.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => m !== 'parameters').map((m) => [m.toUpperCase(), path] as const))
    routes.sort((x, y) => Number(x[0] === 'DELETE') - Number(y[0] === 'DELETE'))
    for (const [method, path] of routes) {
      for (const [i, kind] of kinds.entries()) {
        for (const inScope of [true, false]) {
          const url = fill(path, inScope) + (path.endsWith('/persons') ? '?distinct_id=x' : '')
          // a body that is not JSON: an allowed write stops at 400 (or runs a DELETE), a refused one at 403 before reading it
          const r = await callAs(inScope ? a : b, secrets[i], method, url, undefined, method === 'GET' || method === 'DELETE' ? undefined : 'not json')
          calls++
          const allowed = expectAllowed(kind.on, kind.scope.access, method, path, inScope)
          const ok = allowed ? r.status !== 403 && r.status !== 401 && r.status < 500 : r.status === 403 && r.body?.error?.code === 'SLUICE_ERR_FORBIDDEN'
          if (!ok) wrong.push(`${kind.name}: ${method} ${url} → ${r.status} ${JSON.stringify(r.body?.error ?? '')} (expected ${allowed ? 'allowed' : '403'})`)
        }
      }
    }
    t.same(wrong, [], `${calls} calls (${routes.length} routes × ${kinds.length} kinds × in and out of scope) answered as the rules say`)
  })

  t.test('an environment-scoped read key sees exactly its environment in every list and detail, on both instances', async (t) => {
    const stage = (await a.api('POST', `/api/projects/${P.id}/environments`, { name: 'Stage' })).body
    await a.api('PATCH', `/api/environments/${stage.id}`, { settings: { anonymize_ips: true } })
    const key = (await a.api('POST', '/api/admin_keys', { name: 'stage reader', scopes: [{ access: 'read', environments: [stage.id] }] })).body
    for (const [name, inst] of [['A', a], ['B', b]] as const) {
      const projects = await callAs(inst, key.secret, 'GET', '/api/projects')
      t.same(projects.body.results.map((p: { id: number; environments: { id: number }[] }) => [p.id, p.environments.map((e) => e.id)]), [[P.id, [stage.id]]], `${name}: one project, one environment`)
      t.same((await callAs(inst, key.secret, 'GET', `/api/projects/${P.id}`)).body.environments.map((e: { id: number }) => e.id), [stage.id])
      t.equal((await callAs(inst, key.secret, 'GET', `/api/environments/${stage.id}`)).status, 200)
      t.equal((await callAs(inst, key.secret, 'GET', `/api/environments/${stage.id}/keys`)).status, 200)
      t.equal((await callAs(inst, key.secret, 'GET', `/api/projects/${P.id}/event_definitions`)).status, 200, 'its project\'s shared taxonomy')
      for (const other of [P.id, qEnv]) t.equal((await callAs(inst, key.secret, 'GET', `/api/environments/${other}`)).status, 403, `${name}: environment ${other} is 403`)
      t.equal((await callAs(inst, key.secret, 'GET', `/api/projects/${Q.id}`)).status, 403)
      t.equal((await callAs(inst, key.secret, 'PATCH', `/api/environments/${stage.id}`, { name: 'x' })).status, 403, 'no writes, not even its own environment')
      t.equal((await callAs(inst, key.secret, 'PATCH', `/api/projects/${P.id}`, { name: 'x' })).status, 403)
      t.equal((await callAs(inst, key.secret, 'POST', '/api/projects', { name: 'x' })).status, 403)
      const audit = (await callAs(inst, key.secret, 'GET', '/api/audit?limit=1000')).body.results as { target: { project_id?: number; environment_id?: number } }[]
      t.ok(audit.length >= 2, `${name}: the audit shows its environment's changes`)
      t.same(audit.filter((x) => !(x.target.environment_id === stage.id || (x.target.environment_id === undefined && x.target.project_id === P.id))), [], 'and nothing of other environments')
    }
    const revoked = await a.api('DELETE', `/api/admin_keys/${key.id}`)
    t.equal(revoked.status, 204)
    t.ok(await eventually(async () => (await callAs(b, key.secret, 'GET', '/api/projects')).status === 401, 1_000, 10), 'a revoked admin key is refused by B too')
  })

  t.test('a key made on A works on B at once, and covers an environment its project gained on A a moment before', async (t) => {
    for (let i = 0; i < 5; i++) {
      const key = (await a.api('POST', '/api/admin_keys', { name: `fresh ${i}`, scopes: [{ access: 'read', projects: [Q.id] }] })).body
      const env = (await a.api('POST', `/api/projects/${Q.id}/environments`, { name: `Fresh ${i}` })).body
      const r = await callAs(b, key.secret, 'GET', `/api/environments/${env.id}`)
      t.same([r.status, r.body.name], [200, `Fresh ${i}`])
    }
  })

  t.test('the audit lists each change with the key that made it and never a secret', async (t) => {
    const writer = (await a.api('POST', '/api/admin_keys', { name: 'deployer', scopes: [{ access: 'write', projects: [Q.id] }] })).body
    const renamed = await callAs(b, writer.secret, 'PATCH', `/api/environments/${qEnv}`, { name: 'Blog prod' })
    t.equal(renamed.status, 200)
    const sdk = (await callAs(b, writer.secret, 'POST', `/api/environments/${qEnv}/keys`, { name: 'web' })).body
    const all = (await a.api('GET', '/api/audit?limit=1000')).body.results as { key_id: number | null; key_name: string; command: string; target: Record<string, number>; outcome: string; position: number; time: string }[]
    const last = all.slice(-2).map((x) => [x.key_id, x.key_name, x.command, x.target, x.outcome])
    t.same(last, [
      [writer.id, 'deployer', 'update_environment', { environment_id: qEnv, project_id: Q.id }, 'ok'],
      [writer.id, 'deployer', 'create_sdk_key', { environment_id: qEnv, project_id: Q.id, sdk_key_id: sdk.id }, 'ok'],
    ])
    const commands = new Set(all.map((x) => x.command))
    for (const c of ['create_project', 'create_sdk_key', 'revoke_sdk_key', 'rotate_token', 'expire_token', 'create_admin_key', 'revoke_admin_key']) t.ok(commands.has(c), `${c} is in the audit`)
    t.same([...new Set(all.filter((x) => x.command === 'expire_token').map((x) => x.key_name))], ['engine'], 'grace ends are the engine\'s own')
    t.ok(all.some((x) => x.command === 'create_admin_key' && x.key_id === 0 && x.key_name === 'SLUICE_ADMIN_TOKEN'))
    const text = JSON.stringify(all)
    t.notMatch(text, /slk_|phc_|api_token|hash|salt/, 'no secret, token, hash or salt')
    t.notMatch(text, writer.secret)
    const positions = all.map((x) => x.position)
    t.same(positions, [...positions].sort((x, y) => x - y), 'in log order')
    const sinceLast = (await b.api('GET', `/api/audit?since=${positions[positions.length - 2]}&environment_id=${qEnv}`)).body.results
    t.equal(sinceLast.length, 2, 'since a position, one environment: B answers the same')
  })

  t.test('ClickHouse keeps SDK keys and admin keys (hash only): a control log re-seeded from it still knows them', async (t) => {
    const key = (await a.api('POST', '/api/admin_keys', { name: 'survivor', scopes: [{ access: 'read', projects: [P.id] }] })).body
    const extra = (await a.api('POST', `/api/environments/${P.id}/keys`, { name: 'android' })).body
    const revokedKey = (await a.api('POST', `/api/environments/${P.id}/keys`, { name: 'short-lived' })).body
    await a.api('DELETE', `/api/environments/${P.id}/keys/${revokedKey.id}`)
    t.ok(await eventually(async () => (await stack.count(`id = ${revokedKey.id} AND revoked = 1`, 'sdk_keys FINAL')) === 1 &&
      (await stack.count(`id = ${key.id}`, 'admin_keys FINAL')) === 1, 10_000), 'materialized')
    const stored = await stack.store.query<Record<string, string>>(`SELECT * FROM keys.admin_keys FINAL WHERE id = ${key.id}`)
    t.notMatch(JSON.stringify(stored), key.secret, 'the secret is not in ClickHouse')
    t.match(stored[0], { name: 'survivor', lookup: /^[0-9a-f]{12}$/, hash: /^[0-9a-f]{64}$/, salt: /^[0-9a-f]{64}$/ })
    // an instance on an empty control topic seeds it from ClickHouse
    const c = await stack.start({ SLUICE_CONTROL_TOPIC: 'sluice_control_reseeded' })
    t.match(c.logs(), /re-seeded it from the state materialized in ClickHouse/)
    const keysThere = (await c.api('GET', `/api/environments/${P.id}/keys`)).body.results.map((k: { id: number; api_token: string }) => [k.id, k.api_token])
    t.ok(keysThere.some(([id, tok]: [number, string]) => id === extra.id && tok === extra.api_token), 'the extra SDK key, same id and token')
    t.notOk(keysThere.some(([id]: [number]) => id === revokedKey.id), 'the revoked one stays revoked')
    t.equal((await c.api('POST', `/api/environments/${P.id}/keys`, { name: 'reuse', api_token: revokedKey.api_token })).status, 409, 'and its token is never reused')
    const asKey = await callAs(c, key.secret, 'GET', '/api/projects')
    t.same([asKey.status, asKey.body.results.map((p: { id: number }) => p.id)], [200, [P.id]], 'the admin key works there with its scopes')
    await c.stop('SIGKILL')
  })

  t.test('25 wrong bearer tokens: 429 from the 21st on, even for the right key, until the block ends', async (t) => {
    const statuses: number[] = []
    const failuresBefore = await b.metric('sluice_admin_auth_failures_total')
    for (let i = 0; i < 25; i++) statuses.push((await callAs(b, `wrong-${i}-0123456789abcdef`, 'GET', '/api/projects', undefined, undefined, LIMITER_CLIENT)).status)
    t.same(statuses, [...Array(20).fill(401), ...Array(5).fill(429)])
    const blocked = await callAs(b, b.adminToken, 'GET', '/api/projects', undefined, undefined, LIMITER_CLIENT)
    t.same([blocked.status, blocked.body.error.code], [429, 'SLUICE_ERR_TOO_MANY_ATTEMPTS'])
    t.ok(Number(blocked.retryAfter) >= 1, `Retry-After: ${blocked.retryAfter}`)
    t.equal((await callAs(b, b.adminToken, 'GET', '/api/projects')).status, 200, 'other addresses are not affected')
    t.equal((await callAs(a, a.adminToken, 'GET', '/api/projects', undefined, undefined, LIMITER_CLIENT)).status, 200, 'the other instance keeps its own count')
    t.equal(await b.metric('sluice_admin_auth_refusals_total'), 6, '/metrics stays open and counts the refusals')
    t.equal(await b.metric('sluice_admin_auth_failures_total') - failuresBefore, 20)
    t.ok(await eventually(async () => (await callAs(b, b.adminToken, 'GET', '/api/projects', undefined, undefined, LIMITER_CLIENT)).status === 200, 10_000, 250), 'the right key works again once the block ends')
  })
})
