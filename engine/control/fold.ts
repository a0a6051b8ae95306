// The control fold: (state, command) → outcome, applied in log order by every
// instance. Deterministic: it reads nothing but the state and the command (no
// clock, no randomness), so the same log always yields the same state; ids
// come from the state's counter, conflicts are decided by what came first.
// The state is mutated in place (replaying a long log must not copy it per
// command); foldAll() builds a fresh state from a list, for tests and replay.
import type {
  ClaimGroupType, Command, CreateEnvironment, CreateProject, DeleteEnvironment, MoveProject, Outcome,
  RotateToken, Seed, UpdateEnvironment, UpdateProject,
} from './commands'
import {
  checkEnvironmentSettings, checkProjectSettings, defaultEnvironmentSettings, defaultProjectSettings,
  type EnvironmentSettings, type ProjectSettings,
} from './settings'

export interface ProjectState {
  id: number
  name: string
  settings: ProjectSettings
  created_at: string
  environment_ids: number[]
  /** group type → index 0–4; an index, once assigned, never changes */
  group_types: Map<string, number>
  /** set when this project was moved under another: its environments now belong there */
  merged_into: number | null
  /** control-log offset of the last change */
  version: number
}

export interface EnvironmentState {
  id: number
  project_id: number
  name: string
  api_token: string
  settings: EnvironmentSettings
  created_at: string
  /** deleted environments keep their data; their token is revoked */
  deleted: boolean
  version: number
}

export interface ControlState {
  /** last folded log offset, -1 before the first */
  offset: number
  nextId: number
  projects: Map<number, ProjectState>
  environments: Map<number, EnvironmentState>
  /** api_token → environment id, for live environments only */
  tokens: Map<string, number>
  /** tokens of deleted environments and rotated-away tokens: never handed out again */
  revoked: Set<string>
  /** request_id → outcome of recent commands, so a duplicated command is answered, not applied twice */
  outcomes: Map<string, Outcome>
}

// Duplicates of one append come from producer retries, seconds apart; the
// remembered outcomes travel in every snapshot, so they are kept few.
export const MAX_REMEMBERED_OUTCOMES = 1_000
export const MAX_GROUP_TYPES = 5
export const NAME_MAX = 200
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{8,200}$/

export function emptyState(): ControlState {
  return { offset: -1, nextId: 1, projects: new Map(), environments: new Map(), tokens: new Map(), revoked: new Set(), outcomes: new Map() }
}

export function validName(name: unknown): name is string {
  return typeof name === 'string' && name.trim().length >= 1 && name.length <= NAME_MAX
}

type Fail = Extract<Outcome, { ok: false }>
const fail = (error: Fail['error'], message: string, id?: number): Fail => (id === undefined ? { ok: false, error, message } : { ok: false, error, message, id })
const done = (project_id: number, projects: number[], environments: number[], extra: { environment_id?: number; group_type_index?: number } = {}): Outcome =>
  ({ ok: true, project_id, ...extra, touched: { projects, environments } })

function tokenProblem(state: ControlState, token: unknown): Fail | undefined {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return fail('invalid', 'api_token must be 8–200 characters of A–Z, a–z, 0–9, _ or -')
  if (state.tokens.has(token)) return fail('conflict', 'api_token is already used by another environment')
  if (state.revoked.has(token)) return fail('conflict', 'api_token was revoked and cannot be used again')
  return undefined
}

/** A live project, or the reason there is none. */
function liveProject(state: ControlState, id: number): ProjectState | Fail {
  const p = state.projects.get(id)
  if (!p) return fail('not_found', `project ${id} does not exist`, id)
  if (p.merged_into !== null) return fail('conflict', `project ${id} was moved under project ${p.merged_into} and is now one of its environments`)
  return p
}

function liveEnvironment(state: ControlState, id: number): EnvironmentState | Fail {
  const e = state.environments.get(id)
  if (!e || e.deleted) return fail('environment_not_found', `environment ${id} does not exist`, id)
  return e
}

const isFail = (x: object): x is Fail => 'ok' in x && x.ok === false

function addEnvironment(state: ControlState, project: ProjectState, id: number, name: string, token: string, at: string, offset: number): EnvironmentState {
  const env: EnvironmentState = { id, project_id: project.id, name, api_token: token, settings: defaultEnvironmentSettings(), created_at: at, deleted: false, version: offset }
  state.environments.set(id, env)
  state.tokens.set(token, id)
  project.environment_ids.push(id)
  project.version = offset
  return env
}

function createProject(state: ControlState, cmd: CreateProject, offset: number): Outcome {
  if (!validName(cmd.name)) return fail('invalid', 'name must be 1–200 characters')
  const bad = tokenProblem(state, cmd.api_token)
  if (bad) return bad
  // A new project starts with one environment, "Production", whose id equals the project id.
  const id = state.nextId++
  const project: ProjectState = { id, name: cmd.name, settings: defaultProjectSettings(), created_at: cmd.at, environment_ids: [], group_types: new Map(), merged_into: null, version: offset }
  state.projects.set(id, project)
  addEnvironment(state, project, id, 'Production', cmd.api_token, cmd.at, offset)
  return done(id, [id], [id], { environment_id: id })
}

function createEnvironment(state: ControlState, cmd: CreateEnvironment, offset: number): Outcome {
  const project = liveProject(state, cmd.project_id)
  if (isFail(project)) return project
  if (!validName(cmd.name)) return fail('invalid', 'name must be 1–200 characters')
  const bad = tokenProblem(state, cmd.api_token)
  if (bad) return bad
  const env = addEnvironment(state, project, state.nextId++, cmd.name, cmd.api_token, cmd.at, offset)
  return done(project.id, [project.id], [env.id], { environment_id: env.id })
}

function updateProject(state: ControlState, cmd: UpdateProject, offset: number): Outcome {
  const project = liveProject(state, cmd.project_id)
  if (isFail(project)) return project
  if (cmd.name !== undefined && !validName(cmd.name)) return fail('invalid', 'name must be 1–200 characters')
  let settings: Partial<ProjectSettings> = {}
  if (cmd.settings !== undefined) {
    const c = checkProjectSettings(cmd.settings)
    if (!c.ok) return fail('invalid', `${c.field} ${c.problem}`)
    settings = c.value
  }
  if (cmd.name !== undefined) project.name = cmd.name
  project.settings = { ...project.settings, ...settings }
  project.version = offset
  return done(project.id, [project.id], [])
}

function updateEnvironment(state: ControlState, cmd: UpdateEnvironment, offset: number): Outcome {
  const env = liveEnvironment(state, cmd.environment_id)
  if (isFail(env)) return env
  if (cmd.name !== undefined && !validName(cmd.name)) return fail('invalid', 'name must be 1–200 characters')
  let settings: Partial<EnvironmentSettings> = {}
  if (cmd.settings !== undefined) {
    const c = checkEnvironmentSettings(cmd.settings)
    if (!c.ok) return fail('invalid', `${c.field} ${c.problem}`)
    settings = c.value
  }
  if (cmd.name !== undefined) env.name = cmd.name
  env.settings = { ...env.settings, ...settings }
  env.version = offset
  return done(env.project_id, [], [env.id], { environment_id: env.id })
}

function deleteEnvironment(state: ControlState, cmd: DeleteEnvironment, offset: number): Outcome {
  const env = liveEnvironment(state, cmd.environment_id)
  if (isFail(env)) return env
  const project = state.projects.get(env.project_id)!
  if (project.environment_ids.length <= 1) return fail('conflict', `environment ${env.id} is the last environment of project ${project.id}; a project keeps at least one`)
  env.deleted = true
  env.version = offset
  state.tokens.delete(env.api_token)
  state.revoked.add(env.api_token)
  project.environment_ids = project.environment_ids.filter((id) => id !== env.id)
  project.version = offset
  return done(project.id, [project.id], [env.id], { environment_id: env.id })
}

function rotateToken(state: ControlState, cmd: RotateToken, offset: number): Outcome {
  const env = liveEnvironment(state, cmd.environment_id)
  if (isFail(env)) return env
  const bad = tokenProblem(state, cmd.api_token)
  if (bad) return bad
  state.tokens.delete(env.api_token)
  state.revoked.add(env.api_token)
  env.api_token = cmd.api_token
  state.tokens.set(env.api_token, env.id)
  env.version = offset
  return done(env.project_id, [], [env.id], { environment_id: env.id })
}

/** Both mappings must agree: no type at two indexes, no index for two types. */
export function groupTypeConflicts(parent: ProjectState, child: ProjectState): string[] {
  const conflicts: string[] = []
  const parentByIndex = new Map([...parent.group_types].map(([t, i]) => [i, t]))
  for (const [type, index] of child.group_types) {
    const there = parent.group_types.get(type)
    if (there !== undefined && there !== index) conflicts.push(`group type '${type}' has index ${there} in project ${parent.id} but ${index} in project ${child.id}`)
    const owner = parentByIndex.get(index)
    if (owner !== undefined && owner !== type) conflicts.push(`index ${index} is '${owner}' in project ${parent.id} but '${type}' in project ${child.id}`)
  }
  return conflicts
}

function moveProject(state: ControlState, cmd: MoveProject, offset: number): Outcome {
  if (cmd.project_id === cmd.parent_project_id) return fail('conflict', 'a project cannot move under itself')
  const child = liveProject(state, cmd.project_id)
  if (isFail(child)) return child
  const parentEntry = state.projects.get(cmd.parent_project_id)
  if (!parentEntry) return fail('not_found', `project ${cmd.parent_project_id} does not exist`, cmd.parent_project_id)
  if (parentEntry.merged_into !== null) {
    return fail('conflict', `project ${parentEntry.id} is an environment of project ${parentEntry.merged_into}; nesting is one level deep`)
  }
  const conflicts = groupTypeConflicts(parentEntry, child)
  if (conflicts.length > 0) return fail('conflict', `group types conflict: ${conflicts.join('; ')}`)
  for (const [type, index] of child.group_types) parentEntry.group_types.set(type, index)
  const moved = child.environment_ids
  for (const id of moved) {
    const env = state.environments.get(id)!
    env.project_id = parentEntry.id
    env.version = offset
    parentEntry.environment_ids.push(id)
  }
  child.environment_ids = []
  child.merged_into = parentEntry.id
  child.version = offset
  parentEntry.version = offset
  // earlier moves into the child now point at the parent: nesting stays one level deep
  for (const p of state.projects.values()) if (p.merged_into === child.id) p.merged_into = parentEntry.id
  return done(parentEntry.id, [parentEntry.id, child.id], moved)
}

function claimGroupType(state: ControlState, cmd: ClaimGroupType, offset: number): Outcome {
  let project = state.projects.get(cmd.project_id)
  // a claim made before a move lands in the project the environments belong to now
  if (project && project.merged_into !== null) project = state.projects.get(project.merged_into)
  if (!project) return fail('not_found', `project ${cmd.project_id} does not exist`, cmd.project_id)
  if (typeof cmd.group_type !== 'string' || cmd.group_type.length === 0 || cmd.group_type.length > 400) return fail('invalid', 'group_type must be 1–400 characters')
  const existing = project.group_types.get(cmd.group_type)
  if (existing !== undefined) return done(project.id, [], [], { group_type_index: existing })
  const used = new Set(project.group_types.values())
  let index = 0
  while (used.has(index)) index++
  if (index >= MAX_GROUP_TYPES) return fail('conflict', `project ${project.id} already has ${MAX_GROUP_TYPES} group types`)
  project.group_types.set(cmd.group_type, index)
  project.version = offset
  return done(project.id, [project.id], [], { group_type_index: index })
}

function seed(state: ControlState, cmd: Seed, offset: number): Outcome {
  // Only an empty state is seeded: when two instances seed at once, the first wins.
  if (state.projects.size > 0 || state.environments.size > 0) return fail('conflict', 'the control state is not empty')
  let maxId = 0
  for (const p of cmd.projects) {
    const settings = checkProjectSettings(p.settings ?? {})
    state.projects.set(p.id, {
      id: p.id, name: p.name, settings: { ...defaultProjectSettings(), ...(settings.ok ? settings.value : {}) }, created_at: p.created_at,
      environment_ids: [], group_types: new Map(), merged_into: p.merged_into, version: offset,
    })
    maxId = Math.max(maxId, p.id)
  }
  for (const e of [...cmd.environments].sort((a, b) => a.id - b.id)) {
    const project = state.projects.get(e.project_id)
    if (!project) continue
    const settings = checkEnvironmentSettings(e.settings ?? {})
    const env: EnvironmentState = {
      id: e.id, project_id: e.project_id, name: e.name, api_token: e.api_token,
      settings: { ...defaultEnvironmentSettings(), ...(settings.ok ? settings.value : {}) }, created_at: e.created_at, deleted: e.deleted, version: offset,
    }
    state.environments.set(e.id, env)
    if (e.deleted) state.revoked.add(e.api_token)
    else if (!state.tokens.has(e.api_token)) {
      state.tokens.set(e.api_token, e.id)
      project.environment_ids.push(e.id)
    }
    maxId = Math.max(maxId, e.id)
  }
  for (const g of cmd.group_types) state.projects.get(g.project_id)?.group_types.set(g.group_type, g.group_type_index)
  state.nextId = maxId + 1
  return done(0, [...state.projects.keys()], [...state.environments.keys()])
}

const BOOKKEEPING: Outcome = Object.freeze({ ok: true, project_id: 0, touched: Object.freeze({ projects: [], environments: [] }) }) as Outcome

/** Applies one command at log offset `offset`. */
export function foldCommand(state: ControlState, cmd: Command, offset: number): Outcome {
  state.offset = offset
  // the log's own bookkeeping (engine/control/checkpoints.ts): the state does not change, no outcome is remembered
  if (cmd.type === 'checkpoint' || cmd.type === 'snapshot' || cmd.type === 'request_snapshot') return BOOKKEEPING
  const seen = state.outcomes.get(cmd.request_id)
  if (seen) return seen
  let outcome: Outcome
  try {
    outcome = apply(state, cmd, offset)
  } catch (err) {
    // A malformed command must not stop the instances that replay the log; it fails the same way everywhere.
    outcome = fail('invalid', `command ${String(cmd.type).slice(0, 40)} could not be applied: ${(err as Error).message}`)
  }
  state.outcomes.set(cmd.request_id, outcome)
  if (state.outcomes.size > MAX_REMEMBERED_OUTCOMES) state.outcomes.delete(state.outcomes.keys().next().value as string)
  return outcome
}

function apply(state: ControlState, cmd: Command, offset: number): Outcome {
  let outcome: Outcome
  switch (cmd.type) {
    case 'create_project': outcome = createProject(state, cmd, offset); break
    case 'create_environment': outcome = createEnvironment(state, cmd, offset); break
    case 'update_project': outcome = updateProject(state, cmd, offset); break
    case 'update_environment': outcome = updateEnvironment(state, cmd, offset); break
    case 'delete_environment': outcome = deleteEnvironment(state, cmd, offset); break
    case 'rotate_token': outcome = rotateToken(state, cmd, offset); break
    case 'move_project': outcome = moveProject(state, cmd, offset); break
    case 'claim_group_type': outcome = claimGroupType(state, cmd, offset); break
    case 'seed': outcome = seed(state, cmd, offset); break
    default: outcome = fail('invalid', `unknown command ${(cmd as { type: string }).type}`)
  }
  return outcome
}

export function foldAll(commands: readonly Command[]): { state: ControlState; outcomes: Outcome[] } {
  const state = emptyState()
  const outcomes = commands.map((c, i) => foldCommand(state, c, i))
  return { state, outcomes }
}
