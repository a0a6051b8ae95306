// Commands of the control log (DESIGN §2). A command is what a writer asks
// for; only the fold decides what happens (ids, conflicts), so every instance
// folding the same log reaches the same state. JSON on the wire, so that the
// log stays readable with kcat.

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

export type Command = CreateProject | CreateEnvironment

export type OutcomeError = 'not_found' | 'conflict' | 'invalid'

export type Outcome =
  | { ok: true; project_id: number; environment_id?: number }
  | { ok: false; error: OutcomeError; message: string }

const COMMAND_TYPES = new Set<Command['type']>(['create_project', 'create_environment'])

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
