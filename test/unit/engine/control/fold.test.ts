// engine/control/fold.ts: the same log always folds to the same state; ids,
// conflicts, validation and duplicated commands are decided by the fold alone.
import t from 'tap'
import type {
  ClaimGroupType, Command, CreateEnvironment, CreateProject, DeleteEnvironment, MoveProject, Outcome,
  RotateToken, Seed, UpdateEnvironment, UpdateProject,
} from '../../../../engine/control/commands'
import { emptyState, foldAll, foldCommand, type ControlState, type ProjectState } from '../../../../engine/control/fold'

const AT = '2025-01-01T00:00:00.000Z'

const project = (request_id: string, name: string, api_token: string): CreateProject =>
  ({ type: 'create_project', request_id, at: AT, name, api_token })

const environment = (request_id: string, project_id: number, name: string, api_token: string): CreateEnvironment =>
  ({ type: 'create_environment', request_id, at: AT, project_id, name, api_token })

/** `change` is loosely typed: tests send what a buggy or hostile writer could put in the log */
const updateProject = (request_id: string, project_id: number, change: Record<string, unknown>): UpdateProject =>
  ({ type: 'update_project', request_id, at: AT, project_id, ...change }) as UpdateProject

const updateEnvironment = (request_id: string, environment_id: number, change: Record<string, unknown>): UpdateEnvironment =>
  ({ type: 'update_environment', request_id, at: AT, environment_id, ...change }) as UpdateEnvironment

const deleteEnvironment = (request_id: string, environment_id: number): DeleteEnvironment =>
  ({ type: 'delete_environment', request_id, at: AT, environment_id })

const rotateToken = (request_id: string, environment_id: number, api_token: string): RotateToken =>
  ({ type: 'rotate_token', request_id, at: AT, environment_id, api_token })

const moveProject = (request_id: string, project_id: number, parent_project_id: number): MoveProject =>
  ({ type: 'move_project', request_id, at: AT, project_id, parent_project_id })

const claim = (request_id: string, project_id: number, group_type: string): ClaimGroupType =>
  ({ type: 'claim_group_type', request_id, at: AT, project_id, group_type })

const seed = (request_id: string, body: Pick<Seed, 'projects' | 'environments' | 'group_types'>): Seed =>
  ({ type: 'seed', request_id, at: AT, ...body })

const conflict = (message: string): Outcome => ({ ok: false, error: 'conflict', message })
const invalid = (message: string): Outcome => ({ ok: false, error: 'invalid', message })
/** the outcome names the missing id as data: the admin API answers with it, no parsing of the message */
const notFound = (id: number): Outcome => ({ ok: false, error: 'not_found', message: `project ${id} does not exist`, id })
const environmentNotFound = (id: number): Outcome => ({ ok: false, error: 'environment_not_found', message: `environment ${id} does not exist`, id })
const NAME_INVALID = 'name must be 1–200 characters'

const DEFAULT_PROJECT_SETTINGS = { drop_event_names: [], redact_property_names: [] }
const DEFAULT_ENVIRONMENT_SETTINGS = { anonymize_ips: false, drop_events_older_than_seconds: null }

/** group_types as [type, index] entries in index order */
const plainProject = (p: ProjectState) => ({ ...p, group_types: [...p.group_types].sort((a, b) => a[1] - b[1]) })

/** Maps as entry lists (tokens and outcomes sorted), so states compare with t.same */
function plain(state: ControlState) {
  return {
    offset: state.offset,
    nextId: state.nextId,
    projects: [...state.projects.entries()].map(([id, p]) => [id, plainProject(p)] as const),
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

/** Folds `setup` (every command of which must succeed), then `cmd`: its outcome and the entities before it */
function after(setup: Command[], cmd: Command) {
  const { state, outcomes } = foldAll(setup)
  const failed = outcomes.find((o) => !o.ok)
  if (failed) throw new Error(`setup failed: ${JSON.stringify(failed)}`)
  const before = entities(state)
  const outcome = foldCommand(state, cmd, setup.length)
  return { state, outcome, before }
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
    { ok: true, project_id: 1, environment_id: 1, touched: { projects: [1], environments: [1] } },
    { ok: true, project_id: 1, environment_id: 2, touched: { projects: [1], environments: [2] } },
    { ok: true, project_id: 3, environment_id: 3, touched: { projects: [3], environments: [3] } },
  ])
  t.same(plain(state).projects, [
    [1, { id: 1, name: 'Shop', settings: DEFAULT_PROJECT_SETTINGS, created_at: AT, environment_ids: [1, 2], group_types: [], merged_into: null, version: 1 }],
    [3, { id: 3, name: 'Blog', settings: DEFAULT_PROJECT_SETTINGS, created_at: AT, environment_ids: [3], group_types: [], merged_into: null, version: 2 }],
  ])
  t.same(plain(state).environments, [
    [1, { id: 1, project_id: 1, name: 'Production', api_token: 'token_shop_1', settings: DEFAULT_ENVIRONMENT_SETTINGS, created_at: AT, deleted: false, version: 0 }],
    [2, { id: 2, project_id: 1, name: 'Staging', api_token: 'token_shop_staging', settings: DEFAULT_ENVIRONMENT_SETTINGS, created_at: AT, deleted: false, version: 1 }],
    [3, { id: 3, project_id: 3, name: 'Production', api_token: 'token_blog_1', settings: DEFAULT_ENVIRONMENT_SETTINGS, created_at: AT, deleted: false, version: 2 }],
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
  t.same(outcomes, [invalid, invalid, invalid, { ok: true, project_id: 1, environment_id: 1, touched: { projects: [1], environments: [1] } }, invalid])
  t.equal(state.nextId, 2)
})

t.test('an environment for a missing project is not_found', async (t) => {
  const { state, outcomes } = foldAll([environment('r1', 7, 'Staging', 'token_staging')])
  t.same(outcomes, [notFound(7)])
  t.same(entities(state), entities(emptyState()))
})

t.test('a duplicated command is applied once and answered with the first outcome', async (t) => {
  const state = emptyState()
  const cmd = project('dup', 'Shop', 'token_shop_1')
  const first = foldCommand(state, cmd, 0)
  const afterFirst = entities(state)
  const second = foldCommand(state, cmd, 5)
  t.same(second, { ok: true, project_id: 1, environment_id: 1, touched: { projects: [1], environments: [1] } })
  t.same(second, first)
  t.same(entities(state), afterFirst)
  t.equal(state.offset, 5)
})

t.test('a duplicated environment command between other commands is applied once', async (t) => {
  const env = environment('env-1', 1, 'Staging', 'token_staging')
  const { state, outcomes } = foldAll([project('p', 'Shop', 'token_shop_1'), env, project('q', 'Blog', 'token_blog_1'), env])
  t.same(outcomes, [
    { ok: true, project_id: 1, environment_id: 1, touched: { projects: [1], environments: [1] } },
    { ok: true, project_id: 1, environment_id: 2, touched: { projects: [1], environments: [2] } },
    { ok: true, project_id: 3, environment_id: 3, touched: { projects: [3], environments: [3] } },
    { ok: true, project_id: 1, environment_id: 2, touched: { projects: [1], environments: [2] } },
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
  t.same(outcomes, [
    invalid, invalid, invalid, { ok: true, project_id: 1, environment_id: 1, touched: { projects: [1], environments: [1] } },
    invalid, invalid, { ok: true, project_id: 1, environment_id: 2, touched: { projects: [1], environments: [2] } },
  ])
})

// ---- update_project -------------------------------------------------------

t.test('update_project renames and merges settings key by key, each list replacing the previous one', async (t) => {
  const state = emptyState()
  foldCommand(state, project('p', 'Shop', 'token_shop_1'), 0)
  const updated: Outcome = { ok: true, project_id: 1, touched: { projects: [1], environments: [] } }
  const steps: [UpdateProject, { name: string; settings: unknown }][] = [
    [updateProject('u1', 1, { settings: { drop_event_names: ['spam', '$autocapture', 'spam'] } }),
      { name: 'Shop', settings: { drop_event_names: ['spam', '$autocapture'], redact_property_names: [] } }],
    [updateProject('u2', 1, { name: 'Shop EU', settings: { redact_property_names: ['email'] } }),
      { name: 'Shop EU', settings: { drop_event_names: ['spam', '$autocapture'], redact_property_names: ['email'] } }],
    [updateProject('u3', 1, { name: 'n'.repeat(200) }),
      { name: 'n'.repeat(200), settings: { drop_event_names: ['spam', '$autocapture'], redact_property_names: ['email'] } }],
    [updateProject('u4', 1, { settings: { drop_event_names: [] } }),
      { name: 'n'.repeat(200), settings: { drop_event_names: [], redact_property_names: ['email'] } }],
  ]
  steps.forEach(([cmd, expected], i) => {
    t.same(foldCommand(state, cmd, i + 1), updated, cmd.request_id)
    const p = state.projects.get(1)!
    t.same({ name: p.name, settings: p.settings, version: p.version }, { ...expected, version: i + 1 }, `${cmd.request_id}: project after`)
  })
})

const PROJECT_SETTING_PROBLEMS: { name: string; change: Record<string, unknown>; message: string }[] = [
  { name: 'an empty name', change: { name: '' }, message: NAME_INVALID },
  { name: 'a 201-character name', change: { name: 'n'.repeat(201) }, message: NAME_INVALID },
  { name: 'drop_event_names as a string', change: { settings: { drop_event_names: 'spam' } }, message: 'settings.drop_event_names must be an array of strings' },
  { name: 'a number in drop_event_names', change: { settings: { drop_event_names: ['spam', 7] } }, message: 'settings.drop_event_names must contain strings of 1–200 characters' },
  { name: 'an empty name in redact_property_names', change: { settings: { redact_property_names: [''] } }, message: 'settings.redact_property_names must contain strings of 1–200 characters' },
  { name: 'a 201-character name in redact_property_names', change: { settings: { redact_property_names: ['p'.repeat(201)] } }, message: 'settings.redact_property_names must contain strings of 1–200 characters' },
  { name: 'settings that are not an object', change: { settings: ['spam'] }, message: 'settings must be an object' },
  { name: 'null settings', change: { settings: null }, message: 'settings must be an object' },
  {
    name: 'an environment setting on a project', change: { settings: { anonymize_ips: true } },
    message: 'settings.anonymize_ips is not a known setting (known: drop_event_names, redact_property_names)',
  },
  {
    name: 'a valid name with one invalid setting among valid ones', change: { name: 'Renamed', settings: { redact_property_names: ['email'], drop_event_names: [null] } },
    message: 'settings.drop_event_names must contain strings of 1–200 characters',
  },
]

for (const { name, change, message } of PROJECT_SETTING_PROBLEMS) {
  t.test(`update_project rejects ${name} as invalid and changes nothing`, async (t) => {
    const { state, outcome, before } = after([project('p', 'Shop', 'token_shop_1')], updateProject('u', 1, change))
    t.same(outcome, invalid(message))
    t.same(entities(state), before)
  })
}

t.test('update_project of a missing project is not_found', async (t) => {
  const { outcome } = after([project('p', 'Shop', 'token_shop_1')], updateProject('u', 9, { name: 'Nine' }))
  t.same(outcome, notFound(9))
})

// ---- update_environment ---------------------------------------------------

t.test('update_environment renames and merges settings key by key', async (t) => {
  const state = emptyState()
  foldCommand(state, project('p', 'Shop', 'token_shop_1'), 0)
  foldCommand(state, environment('e', 1, 'Staging', 'token_shop_staging'), 1)
  const updated: Outcome = { ok: true, project_id: 1, environment_id: 2, touched: { projects: [], environments: [2] } }
  const steps: [UpdateEnvironment, { name: string; settings: unknown }][] = [
    [updateEnvironment('u1', 2, { settings: { anonymize_ips: true } }), { name: 'Staging', settings: { anonymize_ips: true, drop_events_older_than_seconds: null } }],
    [updateEnvironment('u2', 2, { name: 'QA', settings: { drop_events_older_than_seconds: 86400 } }), { name: 'QA', settings: { anonymize_ips: true, drop_events_older_than_seconds: 86400 } }],
    [updateEnvironment('u3', 2, { settings: { drop_events_older_than_seconds: null } }), { name: 'QA', settings: { anonymize_ips: true, drop_events_older_than_seconds: null } }],
    [updateEnvironment('u4', 2, { name: 'e'.repeat(200), settings: { anonymize_ips: false } }), { name: 'e'.repeat(200), settings: DEFAULT_ENVIRONMENT_SETTINGS }],
  ]
  steps.forEach(([cmd, expected], i) => {
    t.same(foldCommand(state, cmd, i + 2), updated, cmd.request_id)
    const e = state.environments.get(2)!
    t.same({ name: e.name, settings: e.settings, version: e.version }, { ...expected, version: i + 2 }, `${cmd.request_id}: environment after`)
  })
  t.same(state.environments.get(1)?.settings, DEFAULT_ENVIRONMENT_SETTINGS, 'the other environment keeps its settings')
})

const OLDER_THAN_PROBLEM = 'settings.drop_events_older_than_seconds must be a positive integer or null'
const ENVIRONMENT_SETTING_PROBLEMS: { name: string; change: Record<string, unknown>; message: string }[] = [
  { name: 'an empty name', change: { name: '' }, message: NAME_INVALID },
  { name: 'a 201-character name', change: { name: 'e'.repeat(201) }, message: NAME_INVALID },
  { name: 'anonymize_ips as a string', change: { settings: { anonymize_ips: 'true' } }, message: 'settings.anonymize_ips must be true or false' },
  { name: 'anonymize_ips as a number', change: { settings: { anonymize_ips: 1 } }, message: 'settings.anonymize_ips must be true or false' },
  { name: 'anonymize_ips null', change: { settings: { anonymize_ips: null } }, message: 'settings.anonymize_ips must be true or false' },
  { name: 'drop_events_older_than_seconds 0', change: { settings: { drop_events_older_than_seconds: 0 } }, message: OLDER_THAN_PROBLEM },
  { name: 'a negative drop_events_older_than_seconds', change: { settings: { drop_events_older_than_seconds: -60 } }, message: OLDER_THAN_PROBLEM },
  { name: 'a fractional drop_events_older_than_seconds', change: { settings: { drop_events_older_than_seconds: 1.5 } }, message: OLDER_THAN_PROBLEM },
  { name: 'drop_events_older_than_seconds as a string', change: { settings: { drop_events_older_than_seconds: '3600' } }, message: OLDER_THAN_PROBLEM },
  { name: 'drop_events_older_than_seconds beyond safe integers', change: { settings: { drop_events_older_than_seconds: 2 ** 53 } }, message: OLDER_THAN_PROBLEM },
  { name: 'settings that are not an object', change: { settings: 'anonymize' }, message: 'settings must be an object' },
  {
    name: 'a project setting on an environment', change: { settings: { drop_event_names: ['spam'] } },
    message: 'settings.drop_event_names is not a known setting (known: anonymize_ips, drop_events_older_than_seconds)',
  },
  {
    name: 'a valid name with one invalid setting among valid ones', change: { name: 'QA', settings: { anonymize_ips: true, drop_events_older_than_seconds: 0 } },
    message: OLDER_THAN_PROBLEM,
  },
]

for (const { name, change, message } of ENVIRONMENT_SETTING_PROBLEMS) {
  t.test(`update_environment rejects ${name} as invalid and changes nothing`, async (t) => {
    const { state, outcome, before } = after([project('p', 'Shop', 'token_shop_1')], updateEnvironment('u', 1, change))
    t.same(outcome, invalid(message))
    t.same(entities(state), before)
  })
}

t.test('update_environment of a missing environment is environment_not_found', async (t) => {
  const { outcome } = after([project('p', 'Shop', 'token_shop_1')], updateEnvironment('u', 9, { name: 'Nine' }))
  t.same(outcome, environmentNotFound(9))
})

// Settings arrive as JSON from the log, so any key is possible, including the
// names of Object.prototype members: they must be unknown settings like any other.
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'hasOwnProperty', 'isPrototypeOf', 'toString']
const SETTINGS_TARGETS: { kind: string; known: string; command: (settings: unknown) => Command; settingsOf: (s: ControlState) => unknown }[] = [
  {
    kind: 'update_project', known: 'drop_event_names, redact_property_names',
    command: (settings) => updateProject('u', 1, { settings }), settingsOf: (s) => s.projects.get(1)?.settings,
  },
  {
    kind: 'update_environment', known: 'anonymize_ips, drop_events_older_than_seconds',
    command: (settings) => updateEnvironment('u', 1, { settings }), settingsOf: (s) => s.environments.get(1)?.settings,
  },
]

for (const { kind, known, command, settingsOf } of SETTINGS_TARGETS) {
  for (const key of PROTOTYPE_NAMES) {
    t.test(`${kind} rejects a setting named ${key} as unknown`, async (t) => {
      const state = emptyState()
      foldCommand(state, project('p', 'Shop', 'token_shop_1'), 0)
      const before = settingsOf(state)
      let outcome: Outcome | string
      try {
        outcome = foldCommand(state, command(JSON.parse(`{"${key}": true}`)), 1)
      } catch (err) {
        outcome = `throws ${(err as Error).message}`
      }
      t.same([outcome, settingsOf(state)], [invalid(`settings.${key} is not a known setting (known: ${known})`), before])
    })
  }
}

// ---- delete_environment ---------------------------------------------------

t.test('delete_environment revokes the token, keeps the environment as deleted and detaches it from its project', async (t) => {
  const { state, outcomes } = foldAll([
    project('p', 'Shop', 'token_shop_1'),
    environment('e', 1, 'Staging', 'token_shop_staging'),
    deleteEnvironment('d', 2),
  ])
  t.same(outcomes[2], { ok: true, project_id: 1, environment_id: 2, touched: { projects: [1], environments: [2] } })
  t.same(plain(state).tokens, [['token_shop_1', 1]])
  t.same(state.environments.get(2), {
    id: 2, project_id: 1, name: 'Staging', api_token: 'token_shop_staging', settings: DEFAULT_ENVIRONMENT_SETTINGS, created_at: AT, deleted: true, version: 2,
  })
  t.same(plainProject(state.projects.get(1)!), {
    id: 1, name: 'Shop', settings: DEFAULT_PROJECT_SETTINGS, created_at: AT, environment_ids: [1], group_types: [], merged_into: null, version: 2,
  })
})

t.test('the "Production" environment can be deleted while the project has another', async (t) => {
  const { state, outcome } = after([project('p', 'Shop', 'token_shop_1'), environment('e', 1, 'Staging', 'token_shop_staging')], deleteEnvironment('d', 1))
  t.same(outcome, { ok: true, project_id: 1, environment_id: 1, touched: { projects: [1], environments: [1] } })
  t.same([plain(state).tokens, state.projects.get(1)?.environment_ids], [[['token_shop_staging', 2]], [2]])
})

t.test('the last environment of a project cannot be deleted: conflict, nothing changes', async (t) => {
  const { state, outcome, before } = after(
    [project('p', 'Shop', 'token_shop_1'), environment('e', 1, 'Staging', 'token_shop_staging'), deleteEnvironment('d1', 2)],
    deleteEnvironment('d2', 1),
  )
  t.same(outcome, conflict('environment 1 is the last environment of project 1; a project keeps at least one'))
  t.same(entities(state), before)
})

t.test('a deleted environment is environment_not_found for delete, update and rotate_token', async (t) => {
  const { state, outcomes } = foldAll([
    project('p', 'Shop', 'token_shop_1'),
    environment('e', 1, 'Staging', 'token_shop_staging'),
    deleteEnvironment('d1', 2),
    deleteEnvironment('d2', 2),
    updateEnvironment('u', 2, { name: 'Back' }),
    rotateToken('r', 2, 'token_shop_staging_2'),
    deleteEnvironment('d3', 42),
  ])
  t.same(outcomes.slice(3), [environmentNotFound(2), environmentNotFound(2), environmentNotFound(2), environmentNotFound(42)])
  t.same([state.environments.get(2)?.name, state.environments.get(2)?.api_token, plain(state).tokens], ['Staging', 'token_shop_staging', [['token_shop_1', 1]]])
})

// ---- rotate_token ---------------------------------------------------------

t.test('rotate_token replaces the token: the old one is gone, the new one maps to the environment', async (t) => {
  const { state, outcome } = after(
    [project('p', 'Shop', 'token_shop_1'), environment('e', 1, 'Staging', 'token_shop_staging')],
    rotateToken('r', 2, 'token_shop_staging_2'),
  )
  t.same(outcome, { ok: true, project_id: 1, environment_id: 2, key_id: 2, touched: { projects: [], environments: [2] } })
  t.same(plain(state).tokens, [['token_shop_1', 1], ['token_shop_staging_2', 2]])
  t.same(state.environments.get(2), {
    id: 2, project_id: 1, name: 'Staging', api_token: 'token_shop_staging_2', settings: DEFAULT_ENVIRONMENT_SETTINGS, created_at: AT, deleted: false, version: 2,
  })
})

const TOKEN_INVALID = 'api_token must be 8–200 characters of A–Z, a–z, 0–9, _ or -'
const ROTATIONS_REJECTED: { name: string; token: string; outcome: Outcome }[] = [
  { name: 'a token of another environment', token: 'token_shop_1', outcome: conflict('api_token is already used by another environment') },
  { name: 'the environment\'s own token', token: 'token_shop_staging', outcome: conflict('api_token is already used by another environment') },
  { name: 'a token of 7 characters', token: 'short_7', outcome: invalid(TOKEN_INVALID) },
  { name: 'a token with a space', token: 'token shop', outcome: invalid(TOKEN_INVALID) },
  { name: 'a token of 201 characters', token: 't'.repeat(201), outcome: invalid(TOKEN_INVALID) },
]

for (const { name, token, outcome: expected } of ROTATIONS_REJECTED) {
  t.test(`rotate_token to ${name} is ${expected.ok ? 'ok' : expected.error} and changes nothing`, async (t) => {
    const { state, outcome, before } = after(
      [project('p', 'Shop', 'token_shop_1'), environment('e', 1, 'Staging', 'token_shop_staging')],
      rotateToken('r', 2, token),
    )
    t.same(outcome, expected)
    t.same(entities(state), before)
  })
}

// ---- claim_group_type -----------------------------------------------------

t.test('claim_group_type assigns indexes 0–4 in claim order, answers a known type unchanged and refuses a sixth', async (t) => {
  const { state, outcomes } = foldAll([
    project('p', 'Shop', 'token_shop_1'),
    claim('c1', 1, 'organization'),
    claim('c2', 1, 'company'),
    claim('c3', 1, 'organization'),
    claim('c4', 1, 'team'),
    claim('c5', 1, 'workspace'),
    claim('c6', 1, 'account'),
    claim('c7', 1, 'region'),
    claim('c8', 1, 'company'),
  ])
  const assigned = (group_type_index: number): Outcome => ({ ok: true, project_id: 1, group_type_index, touched: { projects: [1], environments: [] } })
  const known = (group_type_index: number): Outcome => ({ ok: true, project_id: 1, group_type_index, touched: { projects: [], environments: [] } })
  t.same(outcomes.slice(1), [assigned(0), assigned(1), known(0), assigned(2), assigned(3), assigned(4), conflict('project 1 already has 5 group types'), known(1)])
  t.same(plainProject(state.projects.get(1)!).group_types, [['organization', 0], ['company', 1], ['team', 2], ['workspace', 3], ['account', 4]])
  t.equal(state.projects.get(1)?.version, 6, 'the project changed last with the fifth type')
})

t.test('two projects have independent group type mappings', async (t) => {
  const { state, outcomes } = foldAll([
    project('a', 'A', 'token_a_prod'),
    project('b', 'B', 'token_b_prod'),
    claim('c1', 1, 'company'),
    claim('c2', 2, 'organization'),
    claim('c3', 2, 'company'),
    claim('c4', 1, 'organization'),
  ])
  t.same(outcomes.slice(2).map((o) => o.ok && [o.project_id, o.group_type_index]), [[1, 0], [2, 0], [2, 1], [1, 1]])
  t.same([plainProject(state.projects.get(1)!).group_types, plainProject(state.projects.get(2)!).group_types], [
    [['company', 0], ['organization', 1]],
    [['organization', 0], ['company', 1]],
  ])
})

t.test('claims of two instances seeing new group types at the same moment resolve to one mapping', async (t) => {
  // instance A saw organization then company, instance B company then team; the log interleaves them
  const log: Command[] = [
    project('p', 'Shop', 'token_shop_1'),
    claim('a-1', 1, 'organization'),
    claim('b-1', 1, 'company'),
    claim('a-2', 1, 'company'),
    claim('b-2', 1, 'team'),
    claim('b-3', 1, 'organization'),
  ]
  const instanceA = foldAll(log)
  const instanceB = foldAll(log)
  const indexes = (outcomes: Outcome[]) => outcomes.slice(1).map((o) => o.ok && o.group_type_index)
  t.same(indexes(instanceA.outcomes), [0, 1, 1, 2, 0], 'the later claim of company is answered with the index of the first')
  t.same(indexes(instanceB.outcomes), indexes(instanceA.outcomes))
  t.same(plainProject(instanceB.state.projects.get(1)!).group_types, [['organization', 0], ['company', 1], ['team', 2]])
  t.same(plain(instanceB.state), plain(instanceA.state))
})

t.test('a claim for a project that was moved lands in its parent', async (t) => {
  const { state, outcome } = after(
    [project('a', 'Parent', 'token_parent_1'), project('b', 'Child', 'token_child_1'), claim('c1', 1, 'organization'), moveProject('m', 2, 1)],
    claim('c2', 2, 'company'),
  )
  t.same(outcome, { ok: true, project_id: 1, group_type_index: 1, touched: { projects: [1], environments: [] } })
  t.same([plainProject(state.projects.get(1)!).group_types, plainProject(state.projects.get(2)!).group_types], [[['organization', 0], ['company', 1]], []])
})

t.test('claim_group_type rejects a missing project and a group type of 0 or 401 characters', async (t) => {
  const { state, outcomes } = foldAll([
    project('p', 'Shop', 'token_shop_1'),
    claim('c1', 9, 'company'),
    claim('c2', 1, ''),
    claim('c3', 1, 'g'.repeat(401)),
    claim('c4', 1, 'g'.repeat(400)),
  ])
  t.same(outcomes.slice(1), [
    notFound(9),
    invalid('group_type must be 1–400 characters'),
    invalid('group_type must be 1–400 characters'),
    { ok: true, project_id: 1, group_type_index: 0, touched: { projects: [1], environments: [] } },
  ])
  t.same(plainProject(state.projects.get(1)!).group_types, [['g'.repeat(400), 0]])
})

// ---- move_project ---------------------------------------------------------

t.test('move_project moves every environment to the parent, marks the child merged and unites agreeing group types', async (t) => {
  const { state, outcomes } = foldAll([
    project('a', 'Parent', 'token_parent_1'), // project 1, environment 1
    environment('a2', 1, 'Staging', 'token_parent_staging'), // 2
    project('b', 'Child', 'token_child_1'), // project 3, environment 3
    environment('b2', 3, 'Dev', 'token_child_dev'), // 4
    claim('g1', 1, 'organization'),
    claim('g2', 3, 'organization'),
    claim('g3', 3, 'company'),
    moveProject('m', 3, 1),
    claim('g4', 1, 'team'),
  ])
  t.same(outcomes[7], { ok: true, project_id: 1, touched: { projects: [1, 3], environments: [3, 4] } })
  t.same(outcomes[8], { ok: true, project_id: 1, group_type_index: 2, touched: { projects: [1], environments: [] } }, 'the next type gets the next free index')
  t.same(plain(state).projects, [
    [1, {
      id: 1, name: 'Parent', settings: DEFAULT_PROJECT_SETTINGS, created_at: AT, environment_ids: [1, 2, 3, 4],
      group_types: [['organization', 0], ['company', 1], ['team', 2]], merged_into: null, version: 8,
    }],
    [3, {
      id: 3, name: 'Child', settings: DEFAULT_PROJECT_SETTINGS, created_at: AT, environment_ids: [],
      group_types: [['organization', 0], ['company', 1]], merged_into: 1, version: 7,
    }],
  ])
  t.same([...state.environments.values()].map((e) => [e.id, e.project_id, e.name, e.version]), [
    [1, 1, 'Production', 0], [2, 1, 'Staging', 1], [3, 1, 'Production', 7], [4, 1, 'Dev', 7],
  ])
  t.same(plain(state).tokens, [['token_child_1', 3], ['token_child_dev', 4], ['token_parent_1', 1], ['token_parent_staging', 2]], 'tokens keep working')
})

/** Two standalone projects, 1 and 2, with these group types, built by a seed (which can set any index) */
const twoProjects = (parent: [string, number][], child: [string, number][]): Seed => seed('s', {
  projects: [
    { id: 1, name: 'Parent', settings: {}, created_at: AT, merged_into: null },
    { id: 2, name: 'Child', settings: {}, created_at: AT, merged_into: null },
  ],
  environments: [
    { id: 1, project_id: 1, name: 'Production', api_token: 'token_parent_1', settings: {}, created_at: AT, deleted: false },
    { id: 2, project_id: 2, name: 'Production', api_token: 'token_child_1', settings: {}, created_at: AT, deleted: false },
  ],
  group_types: [
    ...parent.map(([group_type, group_type_index]) => ({ project_id: 1, group_type, group_type_index })),
    ...child.map(([group_type, group_type_index]) => ({ project_id: 2, group_type, group_type_index })),
  ],
})

const GROUP_TYPE_CONFLICTS: { name: string; setup: Command[]; message: string }[] = [
  {
    name: 'the same type at different indexes',
    setup: [twoProjects([['organization', 0]], [['organization', 1]])],
    message: 'group types conflict: group type \'organization\' has index 0 in project 1 but 1 in project 2',
  },
  {
    name: 'the same index used by different types',
    setup: [twoProjects([['organization', 0]], [['company', 0]])],
    message: 'group types conflict: index 0 is \'organization\' in project 1 but \'company\' in project 2',
  },
  {
    name: 'types claimed in a different order in each project',
    setup: [
      project('a', 'Parent', 'token_parent_1'), project('b', 'Child', 'token_child_1'),
      claim('g1', 1, 'company'), claim('g2', 1, 'organization'), claim('g3', 2, 'organization'),
    ],
    message: 'group types conflict: group type \'organization\' has index 1 in project 1 but 0 in project 2; index 0 is \'company\' in project 1 but \'organization\' in project 2',
  },
]

for (const { name, setup, message } of GROUP_TYPE_CONFLICTS) {
  t.test(`move_project is a conflict naming the group types when they disagree: ${name}`, async (t) => {
    const { state, outcome, before } = after(setup, moveProject('m', 2, 1))
    t.same(outcome, conflict(message))
    t.same(entities(state), before)
  })
}

t.test('move_project succeeds when the parent has the same types at the same indexes and more', async (t) => {
  const { state, outcome } = after([twoProjects([['organization', 0], ['company', 1], ['team', 3]], [['company', 1], ['region', 2]])], moveProject('m', 2, 1))
  t.same(outcome, { ok: true, project_id: 1, touched: { projects: [1, 2], environments: [2] } })
  t.same(plainProject(state.projects.get(1)!).group_types, [['organization', 0], ['company', 1], ['region', 2], ['team', 3]])
})

const MOVES_REJECTED: { name: string; setup: Command[]; move: MoveProject; outcome: Outcome }[] = [
  {
    name: 'a project under itself', setup: [project('a', 'A', 'token_a_prod')],
    move: moveProject('m', 1, 1), outcome: conflict('a project cannot move under itself'),
  },
  {
    name: 'a missing project', setup: [project('a', 'A', 'token_a_prod')],
    move: moveProject('m', 9, 1), outcome: notFound(9),
  },
  {
    name: 'a project under a missing one', setup: [project('a', 'A', 'token_a_prod')],
    move: moveProject('m', 1, 9), outcome: notFound(9),
  },
  {
    name: 'a project under one that was itself moved',
    setup: [project('a', 'A', 'token_a_prod'), project('b', 'B', 'token_b_prod'), project('c', 'C', 'token_c_prod'), moveProject('m1', 2, 1)],
    move: moveProject('m2', 3, 2), outcome: conflict('project 2 is an environment of project 1; nesting is one level deep'),
  },
  {
    name: 'a project under the one it was moved into',
    setup: [project('a', 'A', 'token_a_prod'), project('b', 'B', 'token_b_prod'), moveProject('m1', 2, 1)],
    move: moveProject('m2', 1, 2), outcome: conflict('project 2 is an environment of project 1; nesting is one level deep'),
  },
  {
    name: 'a project that was already moved',
    setup: [project('a', 'A', 'token_a_prod'), project('b', 'B', 'token_b_prod'), project('c', 'C', 'token_c_prod'), moveProject('m1', 2, 1)],
    move: moveProject('m2', 2, 3), outcome: conflict('project 2 was moved under project 1 and is now one of its environments'),
  },
]

for (const { name, setup, move, outcome: expected } of MOVES_REJECTED) {
  t.test(`moving ${name} is ${expected.ok ? 'ok' : expected.error} and changes nothing`, async (t) => {
    const { state, outcome, before } = after(setup, move)
    t.same(outcome, expected)
    t.same(entities(state), before)
  })
}

t.test('a moved project takes no new environments and no updates', async (t) => {
  const { state, outcomes } = foldAll([
    project('a', 'Parent', 'token_parent_1'),
    project('b', 'Child', 'token_child_1'),
    moveProject('m', 2, 1),
    environment('e', 2, 'Staging', 'token_child_staging'),
    updateProject('u', 2, { name: 'Renamed' }),
  ])
  const moved = conflict('project 2 was moved under project 1 and is now one of its environments')
  t.same(outcomes.slice(3), [moved, moved])
  t.same([state.nextId, state.projects.get(2)?.name, state.tokens.has('token_child_staging')], [3, 'Child', false])
})

t.test('moving a project re-points the projects merged into it to the new parent', async (t) => {
  const { state, outcomes } = foldAll([
    project('a', 'A', 'token_a_prod'), // 1
    project('b', 'B', 'token_b_prod'), // 2
    project('c', 'C', 'token_c_prod'), // 3
    moveProject('m1', 2, 1),
    moveProject('m2', 1, 3),
    claim('g', 2, 'company'),
  ])
  t.same(outcomes.slice(3), [
    { ok: true, project_id: 1, touched: { projects: [1, 2], environments: [2] } },
    { ok: true, project_id: 3, touched: { projects: [3, 1], environments: [1, 2] } },
    { ok: true, project_id: 3, group_type_index: 0, touched: { projects: [3], environments: [] } },
  ])
  t.same([...state.projects.values()].map((p) => [p.id, p.merged_into, p.environment_ids]), [[1, 3, []], [2, 3, []], [3, null, [3, 1, 2]]])
  t.same([...state.environments.values()].map((e) => [e.id, e.project_id]), [[1, 3], [2, 3], [3, 3]])
})

// ---- seed -----------------------------------------------------------------

const SEED = seed('seed-1', {
  projects: [
    { id: 1, name: 'Shop', settings: { drop_event_names: ['spam'] }, created_at: AT, merged_into: null },
    { id: 4, name: 'Old shop', settings: {}, created_at: AT, merged_into: 1 },
    { id: 7, name: 'Blog', settings: { redact_property_names: ['email'] }, created_at: AT, merged_into: null },
  ],
  environments: [
    { id: 9, project_id: 7, name: 'Dev', api_token: 'token_blog_dev', settings: {}, created_at: AT, deleted: false },
    { id: 1, project_id: 1, name: 'Production', api_token: 'token_shop_1', settings: { anonymize_ips: true }, created_at: AT, deleted: false },
    { id: 2, project_id: 1, name: 'Staging', api_token: 'token_shop_staging', settings: {}, created_at: AT, deleted: true },
    { id: 4, project_id: 1, name: 'Production', api_token: 'token_old_1', settings: { drop_events_older_than_seconds: 3600 }, created_at: AT, deleted: false },
    { id: 7, project_id: 7, name: 'Production', api_token: 'token_blog_1', settings: {}, created_at: AT, deleted: false },
  ],
  group_types: [
    { project_id: 1, group_type: 'organization', group_type_index: 0 },
    { project_id: 1, group_type: 'company', group_type_index: 1 },
    { project_id: 4, group_type: 'organization', group_type_index: 0 },
    { project_id: 7, group_type: 'team', group_type_index: 3 },
  ],
})

t.test('a seed rebuilds an empty state: ids, tokens (not of deleted environments), settings, group types, next id', async (t) => {
  const { state, outcomes } = foldAll([SEED])
  t.same(outcomes, [{ ok: true, project_id: 0, touched: { projects: [1, 4, 7], environments: [1, 2, 4, 7, 9] } }])
  const p = plain(state)
  t.same(p.projects, [
    [1, {
      id: 1, name: 'Shop', settings: { drop_event_names: ['spam'], redact_property_names: [] }, created_at: AT, environment_ids: [1, 4],
      group_types: [['organization', 0], ['company', 1]], merged_into: null, version: 0,
    }],
    [4, { id: 4, name: 'Old shop', settings: DEFAULT_PROJECT_SETTINGS, created_at: AT, environment_ids: [], group_types: [['organization', 0]], merged_into: 1, version: 0 }],
    [7, {
      id: 7, name: 'Blog', settings: { drop_event_names: [], redact_property_names: ['email'] }, created_at: AT, environment_ids: [7, 9],
      group_types: [['team', 3]], merged_into: null, version: 0,
    }],
  ])
  t.same(p.environments, [
    [1, { id: 1, project_id: 1, name: 'Production', api_token: 'token_shop_1', settings: { anonymize_ips: true, drop_events_older_than_seconds: null }, created_at: AT, deleted: false, version: 0 }],
    [2, { id: 2, project_id: 1, name: 'Staging', api_token: 'token_shop_staging', settings: DEFAULT_ENVIRONMENT_SETTINGS, created_at: AT, deleted: true, version: 0 }],
    [4, { id: 4, project_id: 1, name: 'Production', api_token: 'token_old_1', settings: { anonymize_ips: false, drop_events_older_than_seconds: 3600 }, created_at: AT, deleted: false, version: 0 }],
    [7, { id: 7, project_id: 7, name: 'Production', api_token: 'token_blog_1', settings: DEFAULT_ENVIRONMENT_SETTINGS, created_at: AT, deleted: false, version: 0 }],
    [9, { id: 9, project_id: 7, name: 'Dev', api_token: 'token_blog_dev', settings: DEFAULT_ENVIRONMENT_SETTINGS, created_at: AT, deleted: false, version: 0 }],
  ])
  t.same(p.tokens, [['token_blog_1', 7], ['token_blog_dev', 9], ['token_old_1', 4], ['token_shop_1', 1]], 'the deleted environment\'s token stays revoked')
  t.equal(state.nextId, 10, 'max id + 1')
})

t.test('after a seed, new ids continue after the highest and the seeded state behaves like a folded one', async (t) => {
  const { outcomes } = foldAll([
    SEED,
    project('p', 'New', 'token_new_1'),
    environment('e', 4, 'Staging', 'token_old_staging'),
    updateEnvironment('u', 2, { name: 'Back' }),
    claim('g1', 7, 'organization'),
    claim('g2', 4, 'company'),
  ])
  t.same(outcomes.slice(1), [
    { ok: true, project_id: 10, environment_id: 10, touched: { projects: [10], environments: [10] } },
    conflict('project 4 was moved under project 1 and is now one of its environments'),
    environmentNotFound(2),
    { ok: true, project_id: 7, group_type_index: 0, touched: { projects: [7], environments: [] } },
    { ok: true, project_id: 1, group_type_index: 1, touched: { projects: [], environments: [] } },
  ])
})

t.test('a seed is a conflict when the state is not empty', async (t) => {
  const { state, outcome, before } = after([project('p', 'Shop', 'token_shop_1')], SEED)
  t.same(outcome, conflict('the control state is not empty'))
  t.same(entities(state), before)
})

t.test('of two seeds in a row, the second is a conflict', async (t) => {
  const second = seed('seed-2', {
    projects: [{ id: 3, name: 'Other', settings: {}, created_at: AT, merged_into: null }],
    environments: [{ id: 3, project_id: 3, name: 'Production', api_token: 'token_other_1', settings: {}, created_at: AT, deleted: false }],
    group_types: [],
  })
  const { state, outcome, before } = after([SEED], second)
  t.same(outcome, conflict('the control state is not empty'))
  t.same(entities(state), before)
  t.same(entities(state), entities(foldAll([SEED]).state))
})

// ---- determinism ----------------------------------------------------------

/** mulberry32: a seeded generator, so the command list is the same on every run */
function generator(seedValue: number) {
  let a = seedValue
  return (n: number): number => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return (((x ^ (x >>> 14)) >>> 0) % n)
  }
}

/** A long list mixing every command type, with ids and tokens drawn from small ranges so that successes and failures both occur */
function mixedCommands(count: number): Command[] {
  const pick = generator(20250101)
  const GROUP_TYPES = ['organization', 'company', 'team', 'workspace', 'account', 'region', 'country']
  const token = () => `token_${pick(60)}_xyz`
  const commands: Command[] = [twoProjects([['organization', 0]], [['organization', 0], ['company', 1]])]
  for (let i = 0; i < count; i++) {
    const r = `m${i}`
    const id = 1 + pick(30)
    switch (pick(10)) {
      case 0: commands.push(project(r, `Project ${i}`, token())); break
      case 1: commands.push(environment(r, id, `Env ${i}`, token())); break
      case 2: commands.push(updateProject(r, id, pick(2) ? { name: `P${i}` } : { settings: { drop_event_names: [`e${pick(5)}`] } })); break
      case 3: commands.push(updateEnvironment(r, id, pick(2) ? { settings: { anonymize_ips: pick(2) === 1 } } : { settings: { drop_events_older_than_seconds: pick(3) * 60 } })); break
      case 4: commands.push(deleteEnvironment(r, id)); break
      case 5: commands.push(rotateToken(r, id, token())); break
      case 6: commands.push(moveProject(r, id, 1 + pick(30))); break
      case 7: case 8: commands.push(claim(r, id, GROUP_TYPES[pick(GROUP_TYPES.length)]!)); break
      default: commands.push(seed(r, { projects: [], environments: [], group_types: [] }))
    }
  }
  return commands
}

/** The state without log offsets (versions), which shift when duplicates are inserted */
function withoutOffsets(state: ControlState) {
  const { nextId, projects, environments, tokens, outcomes } = plain(state)
  return {
    nextId,
    projects: projects.map(([id, { version: _v, ...p }]) => [id, p]),
    environments: environments.map(([id, { version: _v, ...e }]) => [id, e]),
    tokens,
    outcomes,
  }
}

t.test('a long mixed log of every command type folds to the same state and outcomes twice', async (t) => {
  const commands = mixedCommands(600)
  const first = foldAll(commands)
  const second = foldAll(commands)
  t.same(plain(second.state), plain(first.state))
  t.same(second.outcomes, first.outcomes)
  const succeeded = new Set(commands.filter((_, i) => first.outcomes[i]!.ok).map((c) => c.type))
  const failed = new Set(commands.filter((_, i) => !first.outcomes[i]!.ok).map((c) => c.type))
  const ALL: Command['type'][] = ['create_project', 'create_environment', 'update_project', 'update_environment', 'delete_environment', 'rotate_token', 'move_project', 'claim_group_type', 'seed']
  t.same([...succeeded].sort(), [...ALL].sort(), 'every command type succeeded at least once')
  t.same([...failed].sort(), [...ALL].sort(), 'every command type failed at least once')
})

t.test('in a long mixed log, repeated commands (same request_id) are applied once and answered with the first outcome', async (t) => {
  const commands = mixedCommands(600)
  const pick = generator(7)
  const withDuplicates: Command[] = []
  const originalIndex: number[] = []
  commands.forEach((c, i) => {
    withDuplicates.push(c)
    originalIndex.push(i)
    // repeat an earlier command (sometimes this one) after about one command in four
    if (pick(4) === 0) {
      const j = pick(i + 1)
      withDuplicates.push(commands[j]!)
      originalIndex.push(j)
    }
  })
  t.ok(withDuplicates.length > commands.length + 100, 'many duplicates')
  const once = foldAll(commands)
  const repeated = foldAll(withDuplicates)
  t.same(repeated.outcomes, originalIndex.map((i) => once.outcomes[i]), 'each repeat answers the original outcome')
  t.same(withoutOffsets(repeated.state), withoutOffsets(once.state))
})

t.test('a revoked token (rotated away or of a deleted environment) is never handed out again', async (t) => {
  const { state, outcomes } = foldAll([
    project('r1', 'P', 'tok_first_1'),
    environment('r2', 1, 'Staging', 'tok_staging'),
    rotateToken('r3', 1, 'tok_second_1'),
    deleteEnvironment('r4', 2),
    project('r5', 'Q', 'tok_first_1'),
    environment('r6', 1, 'Again', 'tok_staging'),
  ])
  t.same(outcomes.slice(4), [conflict('api_token was revoked and cannot be used again'), conflict('api_token was revoked and cannot be used again')])
  t.equal(state.projects.size, 1)
})

t.test('a command that cannot be applied fails the same way everywhere instead of throwing', async (t) => {
  const broken = { type: 'seed', request_id: 'x', at: AT, projects: null, environments: [], group_types: [] } as unknown as Command
  const first = foldCommand(emptyState(), broken, 0)
  const second = foldCommand(emptyState(), broken, 0)
  t.equal(first.ok, false)
  t.same(first, second)
})
