// Settings, split as the environments RFC asks: per environment (data
// handling of that copy of the product) and per project (shared by all its
// environments). One table each: default and check side by side; the admin
// API validates with it (400 naming the field) and the fold applies only
// what it accepts, so a bad command in the log cannot corrupt state.

export interface EnvironmentSettings {
  /** remove `$ip` from every event of this environment */
  anonymize_ips: boolean
  /** drop events whose timestamp is older than this many seconds; null = keep all */
  drop_events_older_than_seconds: number | null
}

export interface ProjectSettings {
  /** events with these names are dropped, in every environment of the project */
  drop_event_names: string[]
  /** these property names are removed from every event of the project */
  redact_property_names: string[]
}

type Check = (v: unknown) => string | undefined

const MAX_LIST = 1000

const stringList: Check = (v) => {
  if (!Array.isArray(v)) return 'must be an array of strings'
  if (v.length > MAX_LIST) return `must have at most ${MAX_LIST} entries`
  for (const s of v) if (typeof s !== 'string' || s.length === 0 || s.length > 200) return 'must contain strings of 1–200 characters'
  return undefined
}

const ENVIRONMENT: Record<keyof EnvironmentSettings, Check> = {
  anonymize_ips: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
  drop_events_older_than_seconds: (v) => (v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) ? undefined : 'must be a positive integer or null'),
}

const PROJECT: Record<keyof ProjectSettings, Check> = {
  drop_event_names: stringList,
  redact_property_names: stringList,
}

export const defaultEnvironmentSettings = (): EnvironmentSettings => ({ anonymize_ips: false, drop_events_older_than_seconds: null })
export const defaultProjectSettings = (): ProjectSettings => ({ drop_event_names: [], redact_property_names: [] })

export type SettingsCheck<T> = { ok: true; value: Partial<T> } | { ok: false; field: string; problem: string }

function check<T>(table: Record<string, Check>, input: unknown): SettingsCheck<T> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, field: 'settings', problem: 'must be an object' }
  const value: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(input)) {
    // own keys only: `__proto__`, `constructor`… are not settings
    const c = Object.hasOwn(table, k) ? table[k] : undefined
    if (!c) return { ok: false, field: `settings.${k}`, problem: `is not a known setting (known: ${Object.keys(table).join(', ')})` }
    const problem = c(v)
    if (problem) return { ok: false, field: `settings.${k}`, problem }
    value[k] = Array.isArray(v) ? [...new Set(v)] : v
  }
  return { ok: true, value: value as Partial<T> }
}

export const checkEnvironmentSettings = (input: unknown) => check<EnvironmentSettings>(ENVIRONMENT, input)
export const checkProjectSettings = (input: unknown) => check<ProjectSettings>(PROJECT, input)
