// Commands of the control log (DESIGN §2). A command is what a writer asks
// for; only the fold decides what happens (ids, conflicts), so every instance
// folding the same log reaches the same state. JSON on the wire, so that the
// log stays readable with kcat.
import type { EnvironmentSettings, ProjectSettings } from './settings'

export interface CommandBase {
  /** chosen by the writer, so it can recognise the outcome of its own command */
  request_id: string
  /** writer's clock, ISO 8601: becomes created_at; not used for ordering */
  at: string
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

export interface RotateToken extends CommandBase {
  type: 'rotate_token'
  environment_id: number
  api_token: string
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

export type OutcomeError = 'not_found' | 'environment_not_found' | 'conflict' | 'invalid'

/** What a command changed, for the materializer */
export interface Touched { projects: number[]; environments: number[] }

export type Outcome =
  | { ok: true; project_id: number; environment_id?: number; group_type_index?: number; touched: Touched }
  /** `id`: the project or environment that was not found */
  | { ok: false; error: OutcomeError; message: string; id?: number }

const COMMAND_TYPES = new Set<Command['type']>([
  'create_project', 'create_environment', 'update_project', 'update_environment', 'delete_environment',
  'rotate_token', 'move_project', 'claim_group_type', 'seed', 'checkpoint', 'snapshot', 'request_snapshot',
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
