// What a failed store call means, and how long to wait: a pure policy with a
// table test (Vector's clickhouse service.rs). Three answers:
//
//   transient  the server's condition (connection, timeout, overload, too
//              many parts, memory): the same rows are retried with backoff
//   rejection  the data: ClickHouse will never accept these rows, so retrying
//              would stall the partition for good; the insert is split until
//              the rejected rows are found and dead-lettered
//   split      the block's shape, not its rows (too many partitions for one
//              INSERT block): the insert is split and every row is stored
//
// ClickHouse error codes: src/Common/ErrorCodes.cpp. Code 252 is
// TOO_MANY_PARTS for both "Too many parts" (transient) and "Too many
// partitions for single INSERT block" (split): the message tells them apart.

export type StoreErrorClass = 'transient' | 'rejection' | 'split'

/** Codes that reject the data itself, by name: the one table (tested in test/unit/engine/sink/transport/retry.test.ts, listed in the README). */
export const REJECTION_CODES: ReadonlyMap<number, string> = new Map([
  [6, 'CANNOT_PARSE_TEXT'],
  [25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'],
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [32, 'ATTEMPT_TO_READ_AFTER_EOF'], // a truncated RowBinary row
  [33, 'CANNOT_READ_ALL_DATA'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [53, 'TYPE_MISMATCH'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [117, 'INCORRECT_DATA'],
  [128, 'TOO_LARGE_ARRAY_SIZE'],
  [130, 'CANNOT_READ_ARRAY_FROM_TEXT'],
  [131, 'TOO_LARGE_STRING_SIZE'],
  [248, 'INVALID_PARTITION_VALUE'],
  [321, 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE'],
  [349, 'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN'],
  [376, 'CANNOT_PARSE_UUID'],
  [441, 'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING'],
])

const TOO_MANY_PARTITIONS = /too many partitions for single insert block/i

export function clickhouseErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code)
  if (typeof code === 'number' && Number.isInteger(code)) return code
  const m = /Code: (\d+)/.exec(errorText(err))
  return m ? Number(m[1]) : undefined
}

function errorText(err: unknown): string {
  return String((err as Error)?.message ?? err ?? '')
}

/** The policy: anything not known to be the data's fault is transient (retrying a healthy row is cheap; dead-lettering it is loss). */
export function classifyStoreError(err: unknown): StoreErrorClass {
  const code = clickhouseErrorCode(err)
  if (code === undefined) return 'transient'
  if (code === 252 && TOO_MANY_PARTITIONS.test(errorText(err))) return 'split'
  return REJECTION_CODES.has(code) ? 'rejection' : 'transient'
}

export function isRetriable(err: unknown): boolean {
  return classifyStoreError(err) === 'transient'
}

/** Capped exponential backoff: 100 ms, 200 ms, … up to capMs. */
export function backoffMs(attempt: number, capMs = 10_000): number {
  return Math.min(capMs, 100 * 2 ** Math.min(attempt, 20))
}
