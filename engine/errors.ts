// The error catalogue (Fastify's lib/errors.js): each code with its HTTP
// status and message template, in one place. engine/http/respond.ts alone
// turns them into responses; docs/errors.md documents every code and a test
// keeps the two in step.

export interface ErrorSpec { status: number; message: string }

export const ERRORS = {
  SLUICE_ERR_UNAUTHORIZED: { status: 401, message: 'missing or wrong bearer token' },
  SLUICE_ERR_FORBIDDEN: { status: 403, message: 'admin key %s may not %s' },
  SLUICE_ERR_TOO_MANY_ATTEMPTS: { status: 429, message: 'too many wrong bearer tokens from this address; try again in %s seconds' },
  SLUICE_ERR_KEY_NOT_FOUND: { status: 404, message: '%s' },
  SLUICE_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'no route %s' },
  SLUICE_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'method %s is not allowed on %s' },
  SLUICE_ERR_INVALID_JSON: { status: 400, message: 'the request body is not valid JSON: %s' },
  SLUICE_ERR_INVALID_FIELD: { status: 400, message: '%s' },
  SLUICE_ERR_BODY_TOO_LARGE: { status: 413, message: 'the request body is larger than %s bytes' },
  SLUICE_ERR_PROJECT_NOT_FOUND: { status: 404, message: 'project %s does not exist' },
  SLUICE_ERR_ENVIRONMENT_NOT_FOUND: { status: 404, message: 'environment %s does not exist' },
  SLUICE_ERR_GROUP_NOT_FOUND: { status: 404, message: 'no group with type index %s and key %s in environment %s' },
  SLUICE_ERR_PERSON_NOT_FOUND: { status: 404, message: 'no person %s in environment %s' },
  SLUICE_ERR_CONFLICT: { status: 409, message: '%s' },
  SLUICE_ERR_NOT_READY: { status: 503, message: 'this instance has not caught up with the control log yet' },
  SLUICE_ERR_CONTROL_LOG_INCOMPLETE: { status: 503, message: '%s' },
  SLUICE_ERR_CONTROL_TIMEOUT: { status: 503, message: '%s' },
  SLUICE_ERR_INVALID_ENCODING: { status: 400, message: 'the request body could not be decoded: %s' },
  SLUICE_ERR_UNSUPPORTED_ENCODING: { status: 415, message: 'unsupported %s' },
  SLUICE_ERR_INVALID_EVENT: { status: 400, message: '%s' },
  SLUICE_ERR_JSON_TOO_DEEP: { status: 400, message: 'the request nests objects and arrays more than %s levels deep' },
  SLUICE_ERR_MISSING_TOKEN: { status: 401, message: '%s' },
  SLUICE_ERR_EVENT_TOO_LARGE: { status: 413, message: 'event %s is larger than SLUICE_MAX_MESSAGE_BYTES (%s bytes) once encoded for Kafka' },
  SLUICE_ERR_CAPTURE_UNAVAILABLE: { status: 503, message: 'the events could not be handed to Kafka: %s' },
  SLUICE_ERR_INTERNAL: { status: 500, message: 'internal error' },
  // not an HTTP answer: the start stops with this message (engine/main.ts exits 2)
  SLUICE_ERR_CONFIG: { status: 500, message: '%s' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

export class SluiceError extends Error {
  readonly status: number
  constructor(readonly code: ErrorCode, ...args: (string | number)[]) {
    let i = 0
    super(ERRORS[code].message.replace(/%s/g, () => String(args[i++] ?? '')))
    this.status = ERRORS[code].status
  }
}

/** A 400 that names the offending field. */
export function invalidField(field: string, problem: string): SluiceError {
  const err = new SluiceError('SLUICE_ERR_INVALID_FIELD', `${field} ${problem}`)
  ;(err as SluiceError & { field: string }).field = field
  return err
}
