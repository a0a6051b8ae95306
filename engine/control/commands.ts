// Commands of the control log (DESIGN §2). A command is what a writer asks
// for; only the fold decides what happens (ids, conflicts), so every instance
// folding the same log reaches the same state. JSON on the wire, so that the
// log stays readable with kcat.
import type { Scope } from './scopes'
import type { EnvironmentSettings, ProjectSettings } from './settings'

export interface CommandBase {
  /** chosen by the writer, so it can recognise the outcome of its own command */
  request_id: string
  /** writer's clock, ISO 8601: becomes created_at; not used for ordering */
  at: string
  /**
   * The admin key that issued the command, for the audit trail: 0 is the
   * bootstrap SLUICE_ADMIN_TOKEN; absent when the engine itself appended it
   * (group type claims, grace-period ends, seeds).
   */
  key_id?: number
}

export interface CreateProject extends CommandBase {
  type: 'create_project'
  name: string
  api_token: string
}

export interface CreateEnvironment extends CommandBase {
  type: 'create_environment'
  project_id: number
  name: string
  api_token: string
}

export interface UpdateProject extends CommandBase {
  type: 'update_project'
  project_id: number
  name?: string
  settings?: Partial<ProjectSettings>
}

export interface UpdateEnvironment extends CommandBase {
  type: 'update_environment'
  environment_id: number
  name?: string
  settings?: Partial<EnvironmentSettings>
}

export interface DeleteEnvironment extends CommandBase {
  type: 'delete_environment'
  environment_id: number
}

/**
 * The environment's primary key gets a new token at once. With a grace
 * period the old token stays accepted until `revoke_at` (the writer's clock
 * plus grace_seconds, ISO 8601), and is revoked when an `expire_token` for it
 * is folded: every instance revokes it at that same log position.
 */
export interface RotateToken extends CommandBase {
  type: 'rotate_token'
  environment_id: number
  api_token: string
  /** absent or not after `at`: the old token is revoked at once */
  revoke_at?: string
}

/**
 * A grace period ended (grace.ts appends it, from any instance, when the
 * deadline passes; duplicates share one request_id and change nothing).
 * Names the key and the deadline, never the token.
 */
export interface ExpireToken extends CommandBase {
  type: 'expire_token'
  environment_id: number
  sdk_key_id: number
  revoke_at: string
}

/** Another SDK key (ingestion token) for an environment. */
export interface CreateSdkKey extends CommandBase {
  type: 'create_sdk_key'
  environment_id: number
  name: string
  api_token: string
}

/** Revokes one SDK key: its token is dropped as invalid_token from this log position on, and never handed out again. */
export interface RevokeSdkKey extends CommandBase {
  type: 'revoke_sdk_key'
  environment_id: number
  sdk_key_id: number
}

/**
 * An admin key with scopes. Only a salted hash of its secret travels:
 * sha256(salt ‖ secret), hex (engine/http/admin-keys.ts says why sha256).
 * `lookup` is the secret's public prefix, which finds the key in one Map get.
 */
export interface CreateAdminKey extends CommandBase {
  type: 'create_admin_key'
  name: string
  scopes: Scope[]
  lookup: string
  salt: string
  hash: string
}

export interface RevokeAdminKey extends CommandBase {
  type: 'revoke_admin_key'
  admin_key_id: number
}

export interface MoveProject extends CommandBase {
  type: 'move_project'
  project_id: number
  parent_project_id: number
}

/** Ingestion saw a group type the project has no index for. */
export interface ClaimGroupType extends CommandBase {
  type: 'claim_group_type'
  project_id: number
  group_type: string
}

/** Rebuilds an empty log from the state materialized in ClickHouse. */
export interface Seed extends CommandBase {
  type: 'seed'
  projects: { id: number; name: string; settings: Partial<ProjectSettings>; created_at: string; merged_into: number | null }[]
  environments: { id: number; project_id: number; name: string; api_token: string; settings: Partial<EnvironmentSettings>; created_at: string; deleted: boolean }[]
  group_types: { project_id: number; group_type: string; group_type_index: number }[]
  /** absent in seeds written before SDK keys existed: each environment then gets one primary key for its api_token */
  sdk_keys?: { id: number; environment_id: number; name: string; api_token: string; created_at: string; revoked: boolean }[]
  admin_keys?: { id: number; name: string; scopes: Scope[]; lookup: string; salt: string; hash: string; created_at: string; revoked: boolean }[]
}

/**
 * Marks the position a snapshot describes: every instance folding it records
 * the hash of its state there (divergence detection); the instance that
 * appended it then writes the state as `snapshot` chunks (state-image.ts).
 */
export interface Checkpoint extends CommandBase {
  type: 'checkpoint'
}

/**
 * One chunk of the state as it was right after the checkpoint at
 * `base_offset`. Chunks may interleave with other commands; a snapshot counts
 * once all `count` chunks of `snapshot_id` were read. No effect on the fold.
 */
export interface SnapshotChunk extends CommandBase {
  type: 'snapshot'
  snapshot_id: string
  base_offset: number
  /** sha256 of the state image's text (state-image.ts), hex */
  hash: string
  /** how `data` is written: the image text gzipped, then base64 */
  encoding: 'gzip-base64'
  index: number
  count: number
  /** this chunk's slice of the payload */
  data: string
}

/** An instance that found no snapshot in the retained log asks one that has the full state to write one. */
export interface RequestSnapshot extends CommandBase {
  type: 'request_snapshot'
}

export type Command =
  | CreateProject | CreateEnvironment | UpdateProject | UpdateEnvironment | DeleteEnvironment
  | RotateToken | MoveProject | ClaimGroupType | Seed | Checkpoint | SnapshotChunk | RequestSnapshot
  | ExpireToken | CreateSdkKey | RevokeSdkKey | CreateAdminKey | RevokeAdminKey

export type OutcomeError = 'not_found' | 'environment_not_found' | 'key_not_found' | 'conflict' | 'invalid'

/** What a command changed, for the materializer */
export interface Touched { projects: number[]; environments: number[]; sdk_keys?: number[]; admin_keys?: number[] }

export type Outcome =
  | { ok: true; project_id: number; environment_id?: number; group_type_index?: number; key_id?: number; touched: Touched }
  /** `id`: the project or environment that was not found */
  | { ok: false; error: OutcomeError; message: string; id?: number }

const COMMAND_TYPES = new Set<Command['type']>([
  'create_project', 'create_environment', 'update_project', 'update_environment', 'delete_environment',
  'rotate_token', 'move_project', 'claim_group_type', 'seed', 'checkpoint', 'snapshot', 'request_snapshot',
  'expire_token', 'create_sdk_key', 'revoke_sdk_key', 'create_admin_key', 'revoke_admin_key',
])

/** Decodes one control-log value; undefined for anything that is not a command we know (skipped, never fatal). */
export function decodeCommand(value: Buffer | null | undefined): Command | undefined {
  if (!value) return undefined
  let cmd: unknown
  try {
    cmd = JSON.parse(value.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof cmd !== 'object' || cmd === null) return undefined
  const c = cmd as { type?: unknown; request_id?: unknown }
  if (typeof c.type !== 'string' || !COMMAND_TYPES.has(c.type as Command['type']) || typeof c.request_id !== 'string') return undefined
  return cmd as Command
}

export function encodeCommand(cmd: Command): Buffer {
  return Buffer.from(JSON.stringify(cmd))
}
