// The control fold: (state, command) → outcome, applied in log order by every
// instance. Deterministic: it reads nothing but the state and the command (no
// clock, no randomness), so the same log always yields the same state; ids
// come from the state's counter, conflicts are decided by what came first.
// The state is mutated in place (replaying a long log must not copy it per
// command); foldAll() builds a fresh state from a list, for tests and replay.
import type { Command, CreateEnvironment, CreateProject, Outcome } from './commands'

export interface ProjectState {
  id: number
  name: string
  settings: Record<string, unknown>
  created_at: string
  environment_ids: number[]
  /** control-log offset of the last change */
  version: number
}

export interface EnvironmentState {
  id: number
  project_id: number
  name: string
  api_token: string
  settings: Record<string, unknown>
  created_at: string
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
  /** request_id → outcome of recent commands, so a duplicated command is answered, not applied twice */
  outcomes: Map<string, Outcome>
}

export const MAX_REMEMBERED_OUTCOMES = 10_000

export function emptyState(): ControlState {
  return { offset: -1, nextId: 1, projects: new Map(), environments: new Map(), tokens: new Map(), outcomes: new Map() }
}

export const NAME_MAX = 200
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{8,200}$/

export function validName(name: unknown): name is string {
  return typeof name === 'string' && name.trim().length >= 1 && name.length <= NAME_MAX
}

function conflictToken(state: ControlState, token: string): Outcome | undefined {
  if (!TOKEN_PATTERN.test(token)) return { ok: false, error: 'invalid', message: 'api_token must be 8–200 characters of A–Z, a–z, 0–9, _ or -' }
  if (state.tokens.has(token)) return { ok: false, error: 'conflict', message: 'api_token is already used by another environment' }
  return undefined
}

function addEnvironment(state: ControlState, project: ProjectState, id: number, name: string, token: string, at: string, offset: number): EnvironmentState {
  const env: EnvironmentState = { id, project_id: project.id, name, api_token: token, settings: {}, created_at: at, version: offset }
  state.environments.set(id, env)
  state.tokens.set(token, id)
  project.environment_ids.push(id)
  project.version = offset
  return env
}

function createProject(state: ControlState, cmd: CreateProject, offset: number): Outcome {
  if (!validName(cmd.name)) return { ok: false, error: 'invalid', message: 'name must be 1–200 characters' }
  const bad = conflictToken(state, cmd.api_token)
  if (bad) return bad
  // A new project starts with one environment, "Production", whose id equals the project id.
  const id = state.nextId++
  const project: ProjectState = { id, name: cmd.name, settings: {}, created_at: cmd.at, environment_ids: [], version: offset }
  state.projects.set(id, project)
  addEnvironment(state, project, id, 'Production', cmd.api_token, cmd.at, offset)
  return { ok: true, project_id: id, environment_id: id }
}

function createEnvironment(state: ControlState, cmd: CreateEnvironment, offset: number): Outcome {
  const project = state.projects.get(cmd.project_id)
  if (!project) return { ok: false, error: 'not_found', message: `project ${cmd.project_id} does not exist` }
  if (!validName(cmd.name)) return { ok: false, error: 'invalid', message: 'name must be 1–200 characters' }
  const bad = conflictToken(state, cmd.api_token)
  if (bad) return bad
  const env = addEnvironment(state, project, state.nextId++, cmd.name, cmd.api_token, cmd.at, offset)
  return { ok: true, project_id: project.id, environment_id: env.id }
}

/** Applies one command at log offset `offset`. */
export function foldCommand(state: ControlState, cmd: Command, offset: number): Outcome {
  state.offset = offset
  const seen = state.outcomes.get(cmd.request_id)
  if (seen) return seen
  let outcome: Outcome
  switch (cmd.type) {
    case 'create_project': outcome = createProject(state, cmd, offset); break
    case 'create_environment': outcome = createEnvironment(state, cmd, offset); break
  }
  state.outcomes.set(cmd.request_id, outcome)
  if (state.outcomes.size > MAX_REMEMBERED_OUTCOMES) state.outcomes.delete(state.outcomes.keys().next().value as string)
  return outcome
}

export function foldAll(commands: readonly Command[]): { state: ControlState; outcomes: Outcome[] } {
  const state = emptyState()
  const outcomes = commands.map((c, i) => foldCommand(state, c, i))
  return { state, outcomes }
}
