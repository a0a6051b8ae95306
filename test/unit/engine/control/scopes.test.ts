// engine/control/scopes.ts and engine/http/route-access.ts: what each kind of
// admin key may read and write, decided per route from its pattern.
import t from 'tap'
import type { Command } from '../../../../engine/control/commands'
import { foldAll } from '../../../../engine/control/fold'
import { checkScopes, Grant } from '../../../../engine/control/scopes'
import { checkNeed, routeNeed } from '../../../../engine/http/route-access'
import { SluiceError } from '../../../../engine/errors'

const AT = '2026-12-01T10:00:00.000Z'
// project 1 (environments 1, 2), project 3 (environment 3)
const { state } = foldAll([
  { type: 'create_project', request_id: 'a', at: AT, name: 'Shop', api_token: 'token_shop_1' },
  { type: 'create_environment', request_id: 'b', at: AT, project_id: 1, name: 'Staging', api_token: 'token_shop_2' },
  { type: 'create_project', request_id: 'c', at: AT, name: 'Blog', api_token: 'token_blog_1' },
] as Command[])
const env = (id: number) => state.environments.get(id)!
const proj = (id: number) => state.projects.get(id)!

const GRANTS = {
  bootstrap: Grant.bootstrap(),
  readAll: new Grant(1, 'r', [{ access: 'read' }]),
  writeAll: new Grant(2, 'w', [{ access: 'write' }]),
  readProject1: new Grant(3, 'rp', [{ access: 'read', projects: [1] }]),
  writeProject1: new Grant(4, 'wp', [{ access: 'write', projects: [1] }]),
  readEnv2: new Grant(5, 're', [{ access: 'read', environments: [2] }]),
  writeEnv2ReadEnv3: new Grant(6, 'we', [{ access: 'write', environments: [2] }, { access: 'read', environments: [3] }]),
}

t.test('each grant reads and writes exactly what its scopes cover', async (t) => {
  const table = Object.entries(GRANTS).map(([name, g]) => [
    name,
    [1, 2, 3].map((id) => (g.environment(env(id), 'write') ? 'w' : g.environment(env(id), 'read') ? 'r' : '-')).join(''),
    [1, 3].map((id) => (g.project(state, proj(id), 'write') ? 'w' : g.project(state, proj(id), 'read') ? 'r' : '-')).join(''),
    g.global('write') ? 'w' : g.global('read') ? 'r' : '-',
  ])
  t.same(table, [
    ['bootstrap', 'www', 'ww', 'w'],
    ['readAll', 'rrr', 'rr', 'r'],
    ['writeAll', 'www', 'ww', 'w'],
    ['readProject1', 'rr-', 'r-', '-'],
    ['writeProject1', 'ww-', 'w-', '-'],
    // reading environment 2 reads its project (filtered to environment 2), never environment 1
    ['readEnv2', '-r-', 'r-', '-'],
    ['writeEnv2ReadEnv3', '-wr', 'rr', '-'],
  ])
})

t.test('routes need read for GET and write otherwise, on the environment or project of :id, or on everything', async (t) => {
  t.same([
    routeNeed('GET', '/api/environments/:id/events'), routeNeed('POST', '/api/environments/:id/keys'), routeNeed('DELETE', '/api/environments/:id/keys/:key_id'),
    routeNeed('GET', '/api/projects/:id/event_definitions'), routeNeed('PATCH', '/api/projects/:id'), routeNeed('POST', '/api/projects'),
    routeNeed('GET', '/api/projects'), routeNeed('GET', '/api/audit'), routeNeed('GET', '/api/admin_keys'), routeNeed('POST', '/api/admin_keys'),
    routeNeed('GET', '/api/openapi.json'), routeNeed('GET', '/api/status'), routeNeed('GET', '/api/anything_new'),
  ], [
    { kind: 'environment', access: 'read' }, { kind: 'environment', access: 'write' }, { kind: 'environment', access: 'write' },
    { kind: 'project', access: 'read' }, { kind: 'project', access: 'write' }, { kind: 'global', access: 'write' },
    { kind: 'listed' }, { kind: 'listed' }, { kind: 'global', access: 'read' }, { kind: 'global', access: 'write' },
    { kind: 'any' }, { kind: 'any' }, { kind: 'global', access: 'read' },
  ])
})

t.test('checkNeed refuses with SLUICE_ERR_FORBIDDEN naming the key; an unknown id is refused unless the key covers everything', async (t) => {
  const code = (f: () => void) => { try { f(); return 'allowed' } catch (err) { return (err as SluiceError).code } }
  const g = GRANTS.readEnv2
  t.equal(code(() => checkNeed(g, routeNeed('GET', '/api/environments/:id'), { id: '2' }, state)), 'allowed')
  t.equal(code(() => checkNeed(g, routeNeed('GET', '/api/environments/:id'), { id: '1' }, state)), 'SLUICE_ERR_FORBIDDEN')
  t.equal(code(() => checkNeed(g, routeNeed('PATCH', '/api/environments/:id'), { id: '2' }, state)), 'SLUICE_ERR_FORBIDDEN')
  t.equal(code(() => checkNeed(g, routeNeed('GET', '/api/environments/:id'), { id: '999' }, state)), 'SLUICE_ERR_FORBIDDEN')
  t.equal(code(() => checkNeed(GRANTS.readAll, routeNeed('GET', '/api/environments/:id'), { id: '999' }, state)), 'allowed', 'the handler answers 404')
  t.equal(code(() => checkNeed(g, routeNeed('GET', '/api/projects/:id/group_types'), { id: '1' }, state)), 'allowed', 'its project\'s shared taxonomy, read-only')
  t.equal(code(() => checkNeed(g, routeNeed('PATCH', '/api/projects/:id'), { id: '1' }, state)), 'SLUICE_ERR_FORBIDDEN')
  try {
    checkNeed(g, routeNeed('DELETE', '/api/environments/:id'), { id: '2' }, state)
  } catch (err) {
    t.same([(err as SluiceError).status, (err as SluiceError).message], [403, 'admin key 5 may not write environment 2'])
  }
})

t.test('checkScopes accepts the three kinds and names what is wrong', async (t) => {
  t.same(checkScopes([{ access: 'write' }, { access: 'read', projects: [2, 1] }]), { ok: true, value: [{ access: 'write' }, { access: 'read', projects: [1, 2] }] })
  t.same([[], 'read', [{ access: 'read', environments: [] }], [{ access: 'read', environments: [0] }], [{ access: 'read', teams: [1] }]].map((s) => checkScopes(s)), [
    { ok: false, problem: 'must be a list of 1–20 scopes' },
    { ok: false, problem: 'must be a list of 1–20 scopes' },
    { ok: false, problem: '[0].environments must be a list of 1–1000 environment ids' },
    { ok: false, problem: '[0].environments must be a list of 1–1000 environment ids' },
    { ok: false, problem: '[0].teams is not a scope field (access, projects, environments)' },
  ])
})
