// Structured JSON logs (pino) on stdout, level from SLUICE_LOG_LEVEL.
import pino, { type Logger } from 'pino'
import { wellFormedJson } from '../workers/well-formed'

export function createLogger(level: string): Logger {
  // a logged error may quote a client's lone surrogate: each line goes through the well-formed encoder
  return pino({ level, base: { service: 'sluice' }, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: wellFormedJson } })
}
