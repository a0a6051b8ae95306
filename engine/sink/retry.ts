// Which insert failures are worth retrying, and how long to wait. A pure
// function with a table test (Vector's clickhouse service.rs): ClickHouse
// answers Code 27/117 (cannot parse / incorrect data) and 53 (type mismatch)
// for rows that will never be accepted, so retrying them would stall a
// partition forever; anything else (connection refused, timeouts, 5xx,
// too many parts) is the server's condition, not the data's.

const PERMANENT_CODES = new Set([27, 53, 117])

export function clickhouseErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code)
  const m = /Code: (\d+)/.exec(String((err as Error)?.message ?? ''))
  return m ? Number(m[1]) : undefined
}

export function isRetriable(err: unknown): boolean {
  const code = clickhouseErrorCode(err)
  return code === undefined || !PERMANENT_CODES.has(code)
}

/** Capped exponential backoff: 100 ms, 200 ms, … up to capMs. */
export function backoffMs(attempt: number, capMs = 10_000): number {
  return Math.min(capMs, 100 * 2 ** Math.min(attempt, 20))
}
