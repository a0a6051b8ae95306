// The control fold: (state, command) → outcome, applied in log order by every
// instance. Deterministic: it reads nothing but the state and the command (no
// clock, no randomness), so the same log always yields the same state; ids
// come from the state's counter, conflicts are decided by what came first.
// The state is mutated in place (replaying a long log must not copy it per
// command); foldAll() builds a fresh state from a list, for tests and replay.
import type {
  ClaimGroupType, Command, CreateAdminKey, CreateEnvironment, CreateProject, CreateSdkKey, DeleteEnvironment, ExpireToken, MoveProject, Outcome,
  RevokeAdminKey, RevokeSdkKey, RotateToken, Seed, UpdateEnvironment, UpdateProject,
} from './commands'
import { checkScopes, type Scope } from './scopes'
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

/**
 * An SDK key (ingestion token) of an environment. Every environment has one
 * primary key, whose token is the environment's api_token; rotation gives
 * it a new token and keeps its id (metrics count per key id), so the old
 * token may stay accepted as `previous` until its grace deadline.
 */
export interface SdkKeyState {
  id: number
  environment_id: number
  name: string
  token: string
  primary: boolean
  created_at: string
  revoked: boolean
  /** the token before the last rotation, accepted until an expire_token for `revoke_at` is folded */
  previous: { token: string; revoke_at: string } | null
  version: number
}

/** A key for the admin API; the secret itself is never stored (engine/http/admin-keys.ts). */
export interface AdminKeyState {
  id: number
  name: string
  scopes: Scope[]
  /** public prefix of the secret: finds the key without comparing against every hash */
  lookup: string
  salt: string
  hash: string
  created_at: string
  revoked: boolean
  version: number
}

/** One change as the audit trail shows it: what, by which key, on what, with what result. Never a token or secret. */
export interface AuditEntry {
  position: number
  /** the writer's clock (the command's `at`) */
  time: string
  /** 0: SLUICE_ADMIN_TOKEN; null: the engine itself */
  key_id: number | null
  key_name: string
  command: string
  target: { project_id?: number; environment_id?: number; sdk_key_id?: number; admin_key_id?: number }
  /** 'ok', or the outcome's error (conflict, invalid, …) */
  outcome: string
}

export interface ControlState {
  /** last folded log offset, -1 before the first */
  offset: number
  nextId: number
  /** SDK key ids and admin key ids have counters of their own: project and environment ids do not move */
  nextKeyId: number
  nextAdminKeyId: number
  sdkKeys: Map<number, SdkKeyState>
  adminKeys: Map<number, AdminKeyState>
  /** admin key lookup prefix → key id (live and revoked: a revoked key is found, then refused) */
  adminLookups: Map<string, number>
  /** the newest MAX_AUDIT_ENTRIES changes, oldest first */
  audit: AuditEntry[]
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
// The audit travels in every snapshot too: the newest entries only (README, "Audit trail").
export const MAX_AUDIT_ENTRIES = 1_000
export const MAX_GROUP_TYPES = 5
export const NAME_MAX = 200
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{8,200}$/

export function emptyState(): ControlState {
  return {
    offset: -1, nextId: 1, nextKeyId: 1, nextAdminKeyId: 1, projects: new Map(), environments: new Map(), tokens: new Map(), revoked: new Set(), outcomes: new Map(),
    sdkKeys: new Map(), adminKeys: new Map(), adminLookups: new Map(), audit: [],
  }
}

export function validName(name: unknown): name is string {
  return typeof name === 'string' && name.trim().length >= 1 && name.length <= NAME_MAX
}

type Fail = Extract<Outcome, { ok: false }>
const fail = (error: Fail['error'], message: string, id?: number): Fail => (id === undefined ? { ok: false, error, message } : { ok: false, error, message, id })
const done = (project_id: number, projects: number[], environments: number[], extra: { environment_id?: number; group_type_index?: number; key_id?: number } = {}): Outcome => {
  if (extra.key_id === undefined) delete extra.key_id
  return { ok: true, project_id, ...extra, touched: { projects, environments } }
}

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
  addSdkKey(state, env, 'Primary', token, true, at, offset)
  project.environment_ids.push(id)
  project.version = offset
  return env
}

function addSdkKey(state: ControlState, env: EnvironmentState, name: string, token: string, primary: boolean, at: string, offset: number): SdkKeyState {
  const key: SdkKeyState = { id: state.nextKeyId++, environment_id: env.id, name, token, primary, created_at: at, revoked: false, previous: null, version: offset }
  state.sdkKeys.set(key.id, key)
  state.tokens.set(token, env.id)
  return key
}

function revokeToken(state: ControlState, token: string): void {
  state.tokens.delete(token)
  state.revoked.add(token)
}

/** Revokes a key's token and any token still in its grace period. */
function revokeSdkKey(state: ControlState, key: SdkKeyState, offset: number): void {
  revokeToken(state, key.token)
  if (key.previous) revokeToken(state, key.previous.token)
  key.previous = null
  key.revoked = true
  key.version = offset
}

export function primaryKey(state: ControlState, env: EnvironmentState): SdkKeyState | undefined {
  for (const k of state.sdkKeys.values()) if (k.environment_id === env.id && k.primary && !k.revoked) return k
  return undefined
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
  revokeToken(state, env.api_token)
  for (const k of state.sdkKeys.values()) if (k.environment_id === env.id && !k.revoked) revokeSdkKey(state, k, offset)
  project.environment_ids = project.environment_ids.filter((id) => id !== env.id)
  project.version = offset
  return done(project.id, [project.id], [env.id], { environment_id: env.id })
}

function rotateToken(state: ControlState, cmd: RotateToken, offset: number): Outcome {
  const env = liveEnvironment(state, cmd.environment_id)
  if (isFail(env)) return env
  const bad = tokenProblem(state, cmd.api_token)
  if (bad) return bad
  const key = primaryKey(state, env)
  const old = env.api_token
  // a grace period needs a deadline after the command's own time; the writer's clock decides both, so every instance agrees
  const graceUntil = typeof cmd.revoke_at === 'string' && Date.parse(cmd.revoke_at) > Date.parse(cmd.at) ? new Date(Date.parse(cmd.revoke_at)).toISOString() : undefined
  // a token still in an earlier grace period goes now: one previous token per key
  if (key?.previous) revokeToken(state, key.previous.token)
  if (graceUntil === undefined || !key) revokeToken(state, old)
  env.api_token = cmd.api_token
  state.tokens.set(env.api_token, env.id)
  env.version = offset
  if (key) {
    key.token = cmd.api_token
    key.previous = graceUntil === undefined ? null : { token: old, revoke_at: graceUntil }
    key.version = offset
  }
  return done(env.project_id, [], [env.id], { environment_id: env.id, key_id: key?.id })
}

function expireToken(state: ControlState, cmd: ExpireToken, offset: number): Outcome {
  const key = state.sdkKeys.get(cmd.sdk_key_id)
  // already expired (a duplicate from another instance) or rotated again since: nothing to do
  if (!key || key.previous === null || key.previous.revoke_at !== cmd.revoke_at) return done(key ? state.environments.get(key.environment_id)?.project_id ?? 0 : 0, [], [])
  revokeToken(state, key.previous.token)
  key.previous = null
  key.version = offset
  return done(state.environments.get(key.environment_id)?.project_id ?? 0, [], [key.environment_id], { environment_id: key.environment_id, key_id: key.id })
}

function createSdkKey(state: ControlState, cmd: CreateSdkKey, offset: number): Outcome {
  const env = liveEnvironment(state, cmd.environment_id)
  if (isFail(env)) return env
  if (!validName(cmd.name)) return fail('invalid', 'name must be 1–200 characters')
  const bad = tokenProblem(state, cmd.api_token)
  if (bad) return bad
  const key = addSdkKey(state, env, cmd.name, cmd.api_token, false, cmd.at, offset)
  return done(env.project_id, [], [env.id], { environment_id: env.id, key_id: key.id })
}

function revokeSdkKeyCommand(state: ControlState, cmd: RevokeSdkKey, offset: number): Outcome {
  const env = liveEnvironment(state, cmd.environment_id)
  if (isFail(env)) return env
  const key = state.sdkKeys.get(cmd.sdk_key_id)
  if (!key || key.environment_id !== env.id || key.revoked) return fail('key_not_found', `environment ${env.id} has no key ${cmd.sdk_key_id}`, cmd.sdk_key_id)
  if (key.primary) return fail('conflict', `key ${key.id} is the primary key of environment ${env.id} (its api_token): rotate it instead`)
  revokeSdkKey(state, key, offset)
  return done(env.project_id, [], [env.id], { environment_id: env.id, key_id: key.id })
}

const HEX64 = /^[0-9a-f]{64}$/
const LOOKUP = /^[A-Za-z0-9_-]{8,64}$/

function createAdminKey(state: ControlState, cmd: CreateAdminKey, offset: number): Outcome {
  if (!validName(cmd.name)) return fail('invalid', 'name must be 1–200 characters')
  const scopes = checkScopes(cmd.scopes)
  if (!scopes.ok) return fail('invalid', `scopes ${scopes.problem}`)
  if (typeof cmd.lookup !== 'string' || !LOOKUP.test(cmd.lookup) || typeof cmd.salt !== 'string' || !HEX64.test(cmd.salt) || typeof cmd.hash !== 'string' || !HEX64.test(cmd.hash)) {
    return fail('invalid', 'an admin key needs a lookup prefix, a 32-byte salt and a sha256 hash')
  }
  if (state.adminLookups.has(cmd.lookup)) return fail('conflict', 'an admin key with this lookup prefix exists')
  const key: AdminKeyState = { id: state.nextAdminKeyId++, name: cmd.name, scopes: scopes.value, lookup: cmd.lookup, salt: cmd.salt, hash: cmd.hash, created_at: cmd.at, revoked: false, version: offset }
  state.adminKeys.set(key.id, key)
  state.adminLookups.set(key.lookup, key.id)
  return done(0, [], [], { key_id: key.id })
}

function revokeAdminKey(state: ControlState, cmd: RevokeAdminKey, offset: number): Outcome {
  const key = state.adminKeys.get(cmd.admin_key_id)
  if (!key || key.revoked) return fail('key_not_found', `admin key ${cmd.admin_key_id} does not exist`, cmd.admin_key_id)
  key.revoked = true
  key.version = offset
  return done(0, [], [], { key_id: key.id })
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
  seedSdkKeys(state, cmd, offset)
  for (const k of cmd.admin_keys ?? []) {
    const scopes = checkScopes(k.scopes)
    if (!scopes.ok || state.adminLookups.has(k.lookup)) continue
    state.adminKeys.set(k.id, { id: k.id, name: k.name, scopes: scopes.value, lookup: k.lookup, salt: k.salt, hash: k.hash, created_at: k.created_at, revoked: k.revoked, version: offset })
    state.adminLookups.set(k.lookup, k.id)
    state.nextAdminKeyId = Math.max(state.nextAdminKeyId, k.id + 1)
  }
  return done(0, [...state.projects.keys()], [...state.environments.keys()])
}

/** The seed's SDK keys; an environment without a live primary key (older seeds) gets one for its api_token. */
function seedSdkKeys(state: ControlState, cmd: Seed, offset: number): void {
  const withPrimary = new Set<number>()
  for (const k of [...cmd.sdk_keys ?? []].sort((a, b) => a.id - b.id)) {
    const env = state.environments.get(k.environment_id)
    if (!env) continue
    const primary = !k.revoked && !env.deleted && k.api_token === env.api_token
    const revoked = k.revoked || env.deleted
    state.sdkKeys.set(k.id, { id: k.id, environment_id: env.id, name: k.name, token: k.api_token, primary, created_at: k.created_at, revoked, previous: null, version: offset })
    state.nextKeyId = Math.max(state.nextKeyId, k.id + 1)
    if (revoked) revokeToken(state, k.api_token)
    else if (!state.tokens.has(k.api_token) || primary) state.tokens.set(k.api_token, env.id)
    if (primary) withPrimary.add(env.id)
  }
  for (const env of [...state.environments.values()].sort((a, b) => a.id - b.id)) {
    if (withPrimary.has(env.id)) continue
    const key: SdkKeyState = { id: state.nextKeyId++, environment_id: env.id, name: 'Primary', token: env.api_token, primary: !env.deleted, created_at: env.created_at, revoked: env.deleted, previous: null, version: offset }
    state.sdkKeys.set(key.id, key)
  }
}

/** What the audit trail records of a command: the ids it names or made, never a token, secret or hash. */
function auditEntry(state: ControlState, cmd: Command, outcome: Outcome, offset: number): AuditEntry {
  const target: AuditEntry['target'] = {}
  const c = cmd as Partial<Record<'project_id' | 'environment_id' | 'sdk_key_id' | 'admin_key_id' | 'key_id', unknown>>
  const num = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined)
  const project = num(c.project_id) ?? (outcome.ok && outcome.project_id > 0 ? outcome.project_id : undefined)
  const environment = num(c.environment_id) ?? (outcome.ok ? outcome.environment_id : undefined)
  if (project !== undefined) target.project_id = project
  if (environment !== undefined) {
    target.environment_id = environment
    const e = state.environments.get(environment)
    if (e && target.project_id === undefined) target.project_id = e.project_id
  }
  if (cmd.type === 'create_sdk_key' || cmd.type === 'revoke_sdk_key' || cmd.type === 'expire_token' || cmd.type === 'rotate_token') {
    const id = num(c.sdk_key_id) ?? (outcome.ok ? outcome.key_id : undefined)
    if (id !== undefined) target.sdk_key_id = id
  }
  if (cmd.type === 'create_admin_key' || cmd.type === 'revoke_admin_key') {
    const id = num(c.admin_key_id) ?? (outcome.ok ? outcome.key_id : undefined)
    if (id !== undefined) target.admin_key_id = id
  }
  const keyId = cmd.key_id === undefined ? null : num(cmd.key_id) ?? null
  const keyName = keyId === null ? 'engine' : keyId === 0 ? 'SLUICE_ADMIN_TOKEN' : state.adminKeys.get(keyId)?.name ?? `admin key ${keyId}`
  return { position: offset, time: typeof cmd.at === 'string' ? cmd.at.slice(0, 40) : '', key_id: keyId, key_name: keyName, command: cmd.type, target, outcome: outcome.ok ? 'ok' : outcome.error }
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
  // group type claims come from ingestion, many and automatic: not changes anyone made
  if (cmd.type !== 'claim_group_type') {
    state.audit.push(auditEntry(state, cmd, outcome, offset))
    if (state.audit.length > MAX_AUDIT_ENTRIES) state.audit.shift()
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
    case 'expire_token': outcome = expireToken(state, cmd, offset); break
    case 'create_sdk_key': outcome = createSdkKey(state, cmd, offset); break
    case 'revoke_sdk_key': outcome = revokeSdkKeyCommand(state, cmd, offset); break
    case 'create_admin_key': outcome = createAdminKey(state, cmd, offset); break
    case 'revoke_admin_key': outcome = revokeAdminKey(state, cmd, offset); break
    default: outcome = fail('invalid', `unknown command ${(cmd as { type: string }).type}`)
  }
  return outcome
}

export function foldAll(commands: readonly Command[]): { state: ControlState; outcomes: Outcome[] } {
  const state = emptyState()
  const outcomes = commands.map((c, i) => foldCommand(state, c, i))
  return { state, outcomes }
}
