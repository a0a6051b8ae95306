// The one retry loop of the main thread: runs an operation until it
// succeeds, waiting backoffMs(attempt) (engine/sink/transport/retry.ts, the pure
// policy) between attempts. Nothing Sluice owns may be lost, so "until it
// succeeds" means for ever unless the caller says an error is final
// (`retriable`), in which case it is thrown to the caller, who decides what
// the data becomes (a dead letter, a split insert). Used by the batcher,
// the group and person readers, group type claims, dead letters and the
// control log's watermark reads.
import type { Logger } from 'pino'
import { backoffMs } from './sink/transport/retry'

export interface RetryOptions {
  log: Logger
  /** the operation, for the log lines "<what> failed, retrying" and "<what> succeeded after retries" */
  what: string
  /** extra log fields */
  fields?: Record<string, unknown>
  /** false: the error is final and thrown to the caller (default: every error is retried) */
  retriable?: (err: unknown) => boolean
  /** called on every failed attempt before the wait (metrics, health) */
  onFailure?: (err: unknown, attempt: number) => void
  /** log every failure at error level (default), or one line in `logEvery` at warn (expected, noisy waits) */
  logEvery?: number
  /** the wait before attempt n + 1; default backoffMs */
  waitMs?: (attempt: number) => number
}

export async function retrying<T>(operation: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await operation(attempt)
      if (attempt > 0) o.log.info({ ...o.fields, attempts: attempt + 1 }, `${o.what} succeeded after retries`)
      return result
    } catch (err) {
      if (o.retriable && !o.retriable(err)) throw err
      o.onFailure?.(err, attempt)
      const wait = (o.waitMs ?? backoffMs)(attempt)
      const line = { ...o.fields, attempt: attempt + 1, retryInMs: wait, err: (err as Error)?.message ?? String(err) }
      if (o.logEvery === undefined) o.log.error(line, `${o.what} failed, retrying`)
      else if (attempt % o.logEvery === 0) o.log.warn(line, `${o.what} failed, retrying`)
      await new Promise((r) => setTimeout(r, wait))
    }
  }
}
