// The control state as a plain, canonical value (DESIGN §2, "snapshots"):
// what a `snapshot` in the control log carries, what its hash is computed
// over, and what a starting instance folds on from. Canonical means: maps as
// arrays sorted by key, object keys sorted, so two instances holding the same
// state produce byte-identical text and the same sha256, whatever order they
// built it in. Pure: no I/O.
import { createHash } from 'node:crypto'
import type { Outcome } from './commands'
import type { AdminKeyState, AuditEntry, ControlState, EnvironmentState, ProjectState, SdkKeyState } from './fold'

/** 2: SDK keys, admin keys and the audit trail (issue 17). Images of format 1 still load: each environment gets its primary key. */
export const IMAGE_FORMAT = 2
const READABLE_FORMATS: readonly number[] = [1, 2]

interface ProjectImage extends Omit<ProjectState, 'group_types'> {
  /** [group type, index], by index */
  group_types: [string, number][]
}

export interface StateImage {
  format: number
  /** the log offset this state is the fold of */
  offset: number
  next_id: number
  projects: ProjectImage[]
  environments: EnvironmentState[]
  /** [api_token, environment id], by token */
  tokens: [string, number][]
  revoked: string[]
  /** [request_id, outcome] in the order they were remembered (the fold evicts the oldest) */
  outcomes: [string, Outcome][]
  /** format 2 on; by id */
  next_key_id?: number
  next_admin_key_id?: number
  sdk_keys?: SdkKeyState[]
  admin_keys?: AdminKeyState[]
  /** oldest first */
  audit?: AuditEntry[]
}

const byNumber = <T>(key: (x: T) => number) => (a: T, b: T) => key(a) - key(b)
const byString = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)

export function stateImage(state: ControlState): StateImage {
  return {
    format: IMAGE_FORMAT,
    offset: state.offset,
    next_id: state.nextId,
    projects: [...state.projects.values()].sort(byNumber((p) => p.id)).map((p) => ({
      ...p, environment_ids: [...p.environment_ids], group_types: [...p.group_types].sort(byNumber(([, i]) => i)),
    })),
    environments: [...state.environments.values()].sort(byNumber((e) => e.id)).map((e) => ({ ...e })),
    tokens: [...state.tokens].sort(byString(([t]) => t)),
    revoked: [...state.revoked].sort(),
    outcomes: [...state.outcomes],
    next_key_id: state.nextKeyId,
    next_admin_key_id: state.nextAdminKeyId,
    sdk_keys: [...state.sdkKeys.values()].sort(byNumber((k) => k.id)).map((k) => ({ ...k, previous: k.previous && { ...k.previous } })),
    admin_keys: [...state.adminKeys.values()].sort(byNumber((k) => k.id)).map((k) => ({ ...k, scopes: k.scopes.map((s) => ({ ...s })) })),
    audit: state.audit.map((a) => ({ ...a, target: { ...a.target } })),
  }
}

/** The state an image describes; a fresh object that shares nothing with the image. */
export function stateFromImage(image: StateImage): ControlState {
  const copy = JSON.parse(canonicalJson(image)) as StateImage
  const adminKeys = copy.admin_keys ?? []
  const state: ControlState = {
    offset: copy.offset,
    nextId: copy.next_id,
    nextKeyId: copy.next_key_id ?? 1,
    nextAdminKeyId: copy.next_admin_key_id ?? 1,
    projects: new Map(copy.projects.map((p) => [p.id, { ...p, group_types: new Map(p.group_types) }])),
    environments: new Map(copy.environments.map((e) => [e.id, e])),
    tokens: new Map(copy.tokens),
    revoked: new Set(copy.revoked),
    outcomes: new Map(copy.outcomes),
    sdkKeys: new Map((copy.sdk_keys ?? []).map((k) => [k.id, k])),
    adminKeys: new Map(adminKeys.map((k) => [k.id, k])),
    adminLookups: new Map(adminKeys.map((k) => [k.lookup, k.id])),
    audit: copy.audit ?? [],
  }
  // format 1 (before SDK keys): each environment's api_token becomes its primary key, in environment id order
  if (copy.sdk_keys === undefined) {
    for (const e of [...state.environments.values()].sort((a, b) => a.id - b.id)) {
      const id = state.nextKeyId++
      state.sdkKeys.set(id, { id, environment_id: e.id, name: 'Primary', token: e.api_token, primary: !e.deleted, created_at: e.created_at, revoked: e.deleted, previous: null, version: copy.offset })
    }
  }
  return state
}

/** JSON with object keys sorted at every level (arrays keep their order): one text per value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
    const sorted: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k]
    return sorted
  })
}

export const hashText = (text: string): string => createHash('sha256').update(text).digest('hex')

/** The image's canonical text and its hash, as a snapshot carries them. */
export function encodeImage(image: StateImage): { text: string; hash: string } {
  const text = canonicalJson(image)
  return { text, hash: hashText(text) }
}

/** Parses a snapshot's text back into an image, or names what is wrong with it. */
export function decodeImage(text: string, hash: string): StateImage | { problem: string } {
  if (hashText(text) !== hash) return { problem: 'its content does not match its hash' }
  let image: StateImage
  try {
    image = JSON.parse(text) as StateImage
  } catch (err) {
    return { problem: `its content is not JSON: ${(err as Error).message}` }
  }
  if (!READABLE_FORMATS.includes(image?.format)) return { problem: `unknown image format ${String(image?.format)}` }
  return image
}

// Tokens are credentials: a divergence report shows only their start.
const maskToken = (t: string) => `${t.slice(0, 6)}…`
const show = (v: unknown) => JSON.stringify(v)?.slice(0, 120)

function firstFieldDifference(kind: string, mine: Record<string, unknown>, theirs: Record<string, unknown>): string | undefined {
  for (const k of [...new Set([...Object.keys(mine), ...Object.keys(theirs)])].sort()) {
    const a = canonicalJson(mine[k])
    const b = canonicalJson(theirs[k])
    if (a === b) continue
    if (k === 'previous' || k === 'hash' || k === 'salt') return `${kind}: ${k} differs`
    if (k === 'api_token' || k === 'token') return `${kind}: api_token differs (${maskToken(String(mine[k]))} here, ${maskToken(String(theirs[k]))} in the snapshot)`
    return `${kind}: ${k} differs (${show(mine[k])} here, ${show(theirs[k])} in the snapshot)`
  }
  return undefined
}

function firstEntityDifference<T extends { id: number }>(kind: string, mine: T[], theirs: T[]): string | undefined {
  const theirsById = new Map(theirs.map((x) => [x.id, x]))
  const mineById = new Map(mine.map((x) => [x.id, x]))
  const ids = [...new Set([...mineById.keys(), ...theirsById.keys()])].sort((a, b) => a - b)
  for (const id of ids) {
    const a = mineById.get(id)
    const b = theirsById.get(id)
    if (!a) return `${kind} ${id}: exists in the snapshot, not here`
    if (!b) return `${kind} ${id}: exists here, not in the snapshot`
    const d = firstFieldDifference(`${kind} ${id}`, a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>)
    if (d) return d
  }
  return undefined
}

function firstListDifference(kind: string, mine: string[], theirs: string[]): string | undefined {
  const a = new Set(mine)
  const b = new Set(theirs)
  for (const t of mine) if (!b.has(t)) return `${kind}: ${maskToken(t)} here, not in the snapshot`
  for (const t of theirs) if (!a.has(t)) return `${kind}: ${maskToken(t)} in the snapshot, not here`
  return undefined
}

/** Names the first entity where two images differ (projects, then environments, tokens, counters); undefined when equal. */
export function firstDifference(mine: StateImage, theirs: StateImage): string | undefined {
  return firstEntityDifference('project', mine.projects, theirs.projects)
    ?? firstEntityDifference('environment', mine.environments, theirs.environments)
    ?? firstListDifference('live token', mine.tokens.map(([t, id]) => `${t}=${id}`), theirs.tokens.map(([t, id]) => `${t}=${id}`))
    ?? firstListDifference('revoked token', mine.revoked, theirs.revoked)
    ?? firstEntityDifference('SDK key', mine.sdk_keys ?? [], theirs.sdk_keys ?? [])
    ?? firstEntityDifference('admin key', mine.admin_keys ?? [], theirs.admin_keys ?? [])
    ?? (mine.next_id !== theirs.next_id ? `id counter: next id ${mine.next_id} here, ${theirs.next_id} in the snapshot` : undefined)
    ?? (mine.next_key_id !== theirs.next_key_id || mine.next_admin_key_id !== theirs.next_admin_key_id ? 'key id counters differ' : undefined)
    ?? (canonicalJson(mine.audit ?? []) !== canonicalJson(theirs.audit ?? []) ? 'audit trails differ' : undefined)
    ?? (canonicalJson(mine.outcomes) !== canonicalJson(theirs.outcomes) ? 'remembered command outcomes differ' : undefined)
    ?? (mine.offset !== theirs.offset ? `offset: ${mine.offset} here, ${theirs.offset} in the snapshot` : undefined)
}
