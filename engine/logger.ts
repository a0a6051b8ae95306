// Structured JSON logs (pino) on stdout, level from SLUICE_LOG_LEVEL.
import pino, { type Logger } from 'pino'

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'sluice' }, timestamp: pino.stdTimeFunctions.isoTime })
}
