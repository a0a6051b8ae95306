// engine/control/fold.ts: the same log always folds to the same state; ids,
// conflicts, validation and duplicated commands are decided by the fold alone.
import t from 'tap'
import type { Command, CreateEnvironment, CreateProject, Outcome } from '../../engine/control/commands'
import { emptyState, foldAll, foldCommand, type ControlState } from '../../engine/control/fold'

const AT = '2025-01-01T00:00:00.000Z'

const project = (request_id: string, name: string, api_token: string): CreateProject =>
  ({ type: 'create_project', request_id, at: AT, name, api_token })

const environment = (request_id: string, project_id: number, name: string, api_token: string): CreateEnvironment =>
  ({ type: 'create_environment', request_id, at: AT, project_id, name, api_token })

/** Maps as sorted entry lists, so states compare with t.same */
function plain(state: ControlState) {
  return {
    offset: state.offset,
    nextId: state.nextId,
    projects: [...state.projects.entries()],
    environments: [...state.environments.entries()],
    tokens: [...state.tokens.entries()].sort(),
    outcomes: [...state.outcomes.entries()].sort(),
  }
}

/** The parts of the state a rejected command must not touch */
function entities(state: ControlState) {
  const { nextId, projects, environments, tokens } = plain(state)
  return { nextId, projects, environments, tokens }
}

t.test('folding the same commands twice from an empty state yields the same state and outcomes', async (t) => {
  const commands: Command[] = [
    project('r1', 'Shop', 'token_shop_1'),
    environment('r2', 1, 'Staging', 'token_shop_staging'),
    project('r3', 'Blog', 'token_shop_1'),
    project('r4', 'Blog', 'token_blog_1'),
    environment('r5', 99, 'Nowhere', 'token_nowhere'),
    environment('r6', 3, 'Dev', 'token_blog_dev'),
  ]
  const first = foldAll(commands)
  const second = foldAll(commands)
  t.same(plain(second.state), plain(first.state))
  t.same(second.outcomes, first.outcomes)
  t.same(entities(first.state).tokens, [['token_blog_1', 3], ['token_blog_dev', 4], ['token_shop_1', 1], ['token_shop_staging', 2]])
})

t.test('a first project gets id 1 and a "Production" environment 1; later ids follow in log order', async (t) => {
  const { state, outcomes } = foldAll([
    project('r1', 'Shop', 'token_shop_1'),
    environment('r2', 1, 'Staging', 'token_shop_staging'),
    project('r3', 'Blog', 'token_blog_1'),
  ])
  t.same(outcomes, [
    { ok: true, project_id: 1, environment_id: 1 },
    { ok: true, project_id: 1, environment_id: 2 },
    { ok: true, project_id: 3, environment_id: 3 },
  ])
  t.same(plain(state).projects, [
    [1, { id: 1, name: 'Shop', settings: {}, created_at: AT, environment_ids: [1, 2], version: 1 }],
    [3, { id: 3, name: 'Blog', settings: {}, created_at: AT, environment_ids: [3], version: 2 }],
  ])
  t.same(plain(state).environments, [
    [1, { id: 1, project_id: 1, name: 'Production', api_token: 'token_shop_1', settings: {}, created_at: AT, version: 0 }],
    [2, { id: 2, project_id: 1, name: 'Staging', api_token: 'token_shop_staging', settings: {}, created_at: AT, version: 1 }],
    [3, { id: 3, project_id: 3, name: 'Production', api_token: 'token_blog_1', settings: {}, created_at: AT, version: 2 }],
  ])
  t.equal(state.nextId, 4)
})

t.test('interleaved commands for two projects attach each environment to its own project', async (t) => {
  const { state, outcomes } = foldAll([
    project('a', 'A', 'token_a_prod'),
    project('b', 'B', 'token_b_prod'),
    environment('a2', 1, 'A staging', 'token_a_staging'),
    environment('b2', 2, 'B staging', 'token_b_staging'),
    environment('a3', 1, 'A dev', 'token_a_dev'),
  ])
  t.same(outcomes.map((o) => o.ok && [o.project_id, o.environment_id]), [[1, 1], [2, 2], [1, 3], [2, 4], [1, 5]])
  t.same([...state.projects.values()].map((p) => [p.id, p.environment_ids]), [[1, [1, 3, 5]], [2, [2, 4]]])
  t.same([...state.environments.values()].map((e) => [e.id, e.project_id, e.name]), [
    [1, 1, 'Production'], [2, 2, 'Production'], [3, 1, 'A staging'], [4, 2, 'B staging'], [5, 1, 'A dev'],
  ])
})

t.test('a token already in use is a conflict and changes nothing', async (t) => {
  const state = emptyState()
  foldCommand(state, project('r1', 'Shop', 'token_shop_1'), 0)
  const before = entities(state)
  const conflict: Outcome = { ok: false, error: 'conflict', message: 'api_token is already used by another environment' }
  t.same(foldCommand(state, project('r2', 'Other', 'token_shop_1'), 1), conflict)
  t.same(foldCommand(state, environment('r3', 1, 'Staging', 'token_shop_1'), 2), conflict)
  t.same(entities(state), before)
  t.equal(state.offset, 2)
})

t.test('a malformed token is invalid and allocates no id', async (t) => {
  const invalid: Outcome = { ok: false, error: 'invalid', message: 'api_token must be 8–200 characters of A–Z, a–z, 0–9, _ or -' }
  const { state, outcomes } = foldAll([
    project('r1', 'Shop', 'short'),
    project('r2', 'Shop', 'has space!'),
    project('r3', 'Shop', 'x'.repeat(201)),
    project('r4', 'Shop', 'token_shop_1'),
    environment('r5', 1, 'Staging', 'bad/token'),
  ])
  t.same(outcomes, [invalid, invalid, invalid, { ok: true, project_id: 1, environment_id: 1 }, invalid])
  t.equal(state.nextId, 2)
})

t.test('an environment for a missing project is not_found', async (t) => {
  const { state, outcomes } = foldAll([environment('r1', 7, 'Staging', 'token_staging')])
  t.same(outcomes, [{ ok: false, error: 'not_found', message: 'project 7 does not exist' }])
  t.same(entities(state), entities(emptyState()))
})

t.test('a duplicated command is applied once and answered with the first outcome', async (t) => {
  const state = emptyState()
  const cmd = project('dup', 'Shop', 'token_shop_1')
  const first = foldCommand(state, cmd, 0)
  const afterFirst = entities(state)
  const second = foldCommand(state, cmd, 5)
  t.same(second, { ok: true, project_id: 1, environment_id: 1 })
  t.same(second, first)
  t.same(entities(state), afterFirst)
  t.equal(state.offset, 5)
})

t.test('a duplicated environment command between other commands is applied once', async (t) => {
  const env = environment('env-1', 1, 'Staging', 'token_staging')
  const { state, outcomes } = foldAll([project('p', 'Shop', 'token_shop_1'), env, project('q', 'Blog', 'token_blog_1'), env])
  t.same(outcomes, [
    { ok: true, project_id: 1, environment_id: 1 },
    { ok: true, project_id: 1, environment_id: 2 },
    { ok: true, project_id: 3, environment_id: 3 },
    { ok: true, project_id: 1, environment_id: 2 },
  ])
  t.same(state.projects.get(1)?.environment_ids, [1, 2])
})

t.test('names must be 1 to 200 characters', async (t) => {
  const invalid: Outcome = { ok: false, error: 'invalid', message: 'name must be 1–200 characters' }
  const { outcomes } = foldAll([
    project('r1', '', 'token_p_empty'),
    project('r2', '   ', 'token_p_blank'),
    project('r3', 'n'.repeat(201), 'token_p_long'),
    project('r4', 'n'.repeat(200), 'token_p_max'),
    environment('r5', 1, '', 'token_e_empty'),
    environment('r6', 1, 'e'.repeat(201), 'token_e_long'),
    environment('r7', 1, 'e'.repeat(200), 'token_e_max'),
  ])
  t.same(outcomes, [invalid, invalid, invalid, { ok: true, project_id: 1, environment_id: 1 }, invalid, invalid, { ok: true, project_id: 1, environment_id: 2 }])
})
