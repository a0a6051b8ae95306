// The one function that puts a value into SQL text. ClickHouse 18.16 has no
// query parameters, so a user-supplied string (a search term, a group key)
// must be quoted here; everything else travels as inserted rows. Table test:
// test/unit/engine/sink/format/escape.test.ts, injection payloads included.

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
}

/** A ClickHouse string literal holding exactly `s`. */
export function quoteString(s: string): string {
  return "'" + s.replace(/[\\'\0\n\r\t\b\f]/g, (c) => ESCAPES[c]) + "'"
}

/** An integer literal; throws on anything that is not a safe integer (never reaches SQL). */
export function quoteInteger(n: number): string {
  if (!Number.isSafeInteger(n)) throw new TypeError(`not an integer: ${n}`)
  return String(n)
}

const CH_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/

/**
 * A UTC time literal of the events tables' type: `text` is ClickHouse's own
 * `YYYY-MM-DD hh:mm:ss[.ffffff]` (as it returns them, or workers/encode.ts
 * formatDateTime writes them); anything else throws.
 */
export function quoteDateTime(text: string, flavor: 'DateTime' | 'DateTime64'): string {
  if (!CH_DATETIME.test(text)) throw new TypeError(`not a ClickHouse date-time: ${JSON.stringify(text)}`)
  return flavor === 'DateTime64' ? `toDateTime64(${quoteString(text)}, 6, 'UTC')` : `toDateTime(${quoteString(text)}, 'UTC')`
}
