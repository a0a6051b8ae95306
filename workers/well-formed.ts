// The one encoder for well-formed text: everything Sluice writes as text
// (JSONEachRow rows, dead letters, Kafka messages from the capture port, log
// lines) carries no lone UTF-16 surrogate, neither as a character nor as a
// JSON `\uD800`-style escape: each becomes U+FFFD, as the RowBinary path
// already does implicitly (Buffer's UTF-8 encoder replaces them). Current
// ClickHouse rejects a JSONEachRow insert holding such an escape (`Code: 25
// Cannot parse escape sequence`), which used to stall a partition for good.
// Surrogate pairs, written raw or as two escapes, are kept.
// Table test: test/unit/workers/well-formed.test.ts.

declare global {
  interface String {
    /** ES2024, in V8 since Node 20 */
    isWellFormed(): boolean
    toWellFormed(): string
  }
}

/** A backslash followed by `u` and a surrogate's first hex digits: the only way a JSON text can spell a surrogate. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/

// Scanning left to right, `\\` (an escaped backslash) is consumed first, so
// that `\\ud800` (a backslash, then the letters ud800) is never taken for an
// escape; then a high+low pair (kept); then a surrogate escape on its own.
const ESCAPES = /\\(?:\\|u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[dD][89a-fA-F][0-9a-fA-F]{2})/g

const REPLACEMENT_ESCAPE = '\\ufffd'

/** `text` with lone surrogate characters replaced by U+FFFD (for text that is not JSON: headers, keys, log fields). */
export function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed()
}

/**
 * JSON text with every lone surrogate, raw or escaped, replaced by U+FFFD
 * (escaped as `\ufffd`). The common text has no surrogate escape at all and
 * costs two scans (bench/parse.bench.ts).
 */
export function wellFormedJson(text: string): string {
  // a raw high surrogate before an escaped low one would pair up once parsed: characters first
  if (!text.isWellFormed()) text = text.toWellFormed()
  if (!SURROGATE_ESCAPE.test(text)) return text
  return text.replace(ESCAPES, (m) => (m.length === 2 || m.length === 12 ? m : REPLACEMENT_ESCAPE))
}

/**
 * A surrogate escape, or a backslash spelled as an escape (`\\u005c`), which
 * becomes one in a JSON string nested in this text: without either, such a
 * string needs no pass of its own (wellFormedJsonText).
 */
const NESTED_ESCAPE = /\\u(?:[dD][89a-fA-F]|005[cC])/

/**
 * wellFormedJson, and whether a JSON string parsed out of the result may
 * still spell a lone surrogate (`nested`). Without NESTED_ESCAPE in the text
 * it cannot: its characters are the text's, now well-formed, and each of its
 * backslashes was written `\\\\`, so a surrogate escape in it was one in the
 * text too (workers/parse.ts: `data` skips its two scans; they were 2.4 % of
 * a worker's profile).
 */
export function wellFormedJsonText(text: string): { text: string; nested: boolean } {
  // a raw high surrogate before an escaped low one would pair up once parsed: characters first
  if (!text.isWellFormed()) text = text.toWellFormed()
  if (!NESTED_ESCAPE.test(text)) return { text, nested: false }
  return { text: wellFormedJson(text), nested: true } // its isWellFormed is a quick true now
}

/** JSON.stringify whose output is well-formed (JSON.stringify itself escapes lone surrogates as `\udXXX`). */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined
  return text === undefined ? 'null' : wellFormedJson(text)
}
