// Finds the JSON text of the raw event's `properties` object inside `data`,
// so that an event whose properties no step changes is stored with the text it
// came with instead of being serialized again (JSON.stringify of ~30
// properties cost about a fifth of a worker's time). Runs only on text that
// JSON.parse has just accepted, so it only has to find boundaries: strings are
// skipped with indexOf, and anything unexpected answers undefined (the caller
// then serializes the parsed object, as before).
const QUOTE = 34
const BACKSLASH = 92
const OPEN_BRACE = 123
const CLOSE_BRACE = 125
const OPEN_BRACKET = 91
const CLOSE_BRACKET = 93
// Deeper text is serialized again, as before this shortcut: JSON.stringify
// then fails on absurd depth and the message is dead-lettered
// (processing_error) instead of storing what ClickHouse's JSON functions reject.
const MAX_DEPTH = 256

/** Index just past the string whose opening quote is at `i`. */
function skipString(s: string, i: number): number {
  let j = i + 1
  for (;;) {
    const q = s.indexOf('"', j)
    if (q < 0) return -1
    let k = q - 1
    while (s.charCodeAt(k) === BACKSLASH) k--
    // an even number of backslashes before the quote: it closes the string
    if ((q - 1 - k) % 2 === 0) return q + 1
    j = q + 1
  }
}

/** Index just past the value (any JSON value) starting at or after `i`. */
function skipValue(s: string, i: number): number {
  const n = s.length
  while (i < n && s.charCodeAt(i) <= 32) i++
  const c = s.charCodeAt(i)
  if (c === QUOTE) return skipString(s, i)
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    // number, true, false, null: up to the next delimiter
    while (i < n) {
      const d = s.charCodeAt(i)
      if (d === 44 || d === CLOSE_BRACE || d === CLOSE_BRACKET || d <= 32) break
      i++
    }
    return i
  }
  let depth = 0
  while (i < n) {
    const d = s.charCodeAt(i)
    if (d === QUOTE) { i = skipString(s, i); if (i < 0) return -1; continue }
    if (d === OPEN_BRACE || d === OPEN_BRACKET) { if (++depth > MAX_DEPTH) return -1 }
    else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return i + 1
    i++
  }
  return -1
}

function skipWhitespace(s: string, i: number): number {
  while (i < s.length && s.charCodeAt(i) <= 32) i++
  return i
}

/** One member of an object's text, as readMember finds it. */
interface Member {
  /** the opening quote of the key */
  start: number
  /** the key as written (readMember refuses escaped keys: one might spell any name) */
  key: string
  valueStart: number
  /** just past the value */
  end: number
}

const AT_END = 0
const MALFORMED = -1

/**
 * Reads the next member of an object's text from `i` (after its `{` or a
 * previous member) into `m`: 1, or AT_END at the closing brace, or
 * MALFORMED (including an escaped key).
 */
function readMember(s: string, i: number, m: Member): number {
  for (;;) {
    i = skipWhitespace(s, i)
    const c = s.charCodeAt(i)
    if (c === CLOSE_BRACE) return AT_END
    if (c === 44) { i++; continue } // ','
    if (c !== QUOTE) return MALFORMED
    const keyEnd = skipString(s, i)
    if (keyEnd < 0) return MALFORMED
    for (let k = i + 1; k < keyEnd; k++) if (s.charCodeAt(k) === BACKSLASH) return MALFORMED
    let v = skipWhitespace(s, keyEnd)
    if (s.charCodeAt(v) !== 58) return MALFORMED // ':'
    v = skipWhitespace(s, v + 1)
    const end = skipValue(s, v)
    if (end < 0) return MALFORMED
    m.start = i
    m.key = s.slice(i + 1, keyEnd - 1)
    m.valueStart = v
    m.end = end
    return 1
  }
}

/** Index just past the `{` that opens the object text, or MALFORMED. */
function objectStart(s: string): number {
  const i = skipWhitespace(s, 0)
  return s.charCodeAt(i) === OPEN_BRACE ? i + 1 : MALFORMED
}

/**
 * The text of the top-level `properties` member of the JSON object `data`
 * when it is an object (the last one, as JSON.parse keeps the last of
 * duplicate keys); undefined otherwise.
 */
export function findPropertiesText(data: string): string | undefined {
  const m: Member = { start: 0, key: '', valueStart: 0, end: 0 }
  let found: string | undefined
  for (let i = objectStart(data); i !== MALFORMED; i = m.end) {
    const r = readMember(data, i, m)
    if (r === AT_END) return found
    if (r === MALFORMED) return undefined
    if (m.key === 'properties') found = data.charCodeAt(m.valueStart) === OPEN_BRACE ? data.slice(m.valueStart, m.end) : undefined
  }
  return undefined
}

/**
 * The object text `objectText` with `"name":valueJson` as its first member,
 * as [head, rest]: written one after the other, the 1 kB rest is never
 * copied into a joined string.
 */
export function prependMember(objectText: string, name: string, valueJson: string): [string, string] {
  let i = 1
  while (objectText.charCodeAt(i) <= 32) i++
  const empty = objectText.charCodeAt(i) === CLOSE_BRACE
  return ['{' + JSON.stringify(name) + ':' + valueJson + (empty ? '' : ','), objectText.slice(1)]
}

/**
 * The object text without its top-level members named in `names` (every
 * occurrence, as JSON.parse would keep the last); undefined when the text is
 * not as expected or a key is escaped (the caller then serializes the object).
 * Runs of kept members are taken as they are written and joined by commas.
 */
export function withoutMembers(objectText: string, names: readonly string[]): string | undefined {
  const m: Member = { start: 0, key: '', valueStart: 0, end: 0 }
  const runs: string[] = []
  let runStart = -1
  let runEnd = -1
  let removed = false
  for (let i = objectStart(objectText); ; i = m.end) {
    if (i === MALFORMED) return undefined
    const r = readMember(objectText, i, m)
    if (r === AT_END) break
    if (r === MALFORMED) return undefined
    if (names.includes(m.key)) {
      removed = true
      if (runStart >= 0) runs.push(objectText.slice(runStart, runEnd))
      runStart = -1
    } else {
      if (runStart < 0) runStart = m.start
      runEnd = m.end
    }
  }
  if (!removed) return objectText
  if (runStart >= 0) runs.push(objectText.slice(runStart, runEnd))
  return '{' + runs.join(',') + '}'
}

/**
 * Adds `"name":valueJson` as the first member of the event's kept properties
 * text (head + rest, see WorkingEvent.propertiesText), without copying the
 * rest: a head already there gains the member in front. Nothing to do when
 * the text was given up (the encoder serializes the object).
 */
export function addLeadingMember(event: { propertiesText: string | undefined; propertiesHead: string }, name: string, valueJson: string): void {
  if (event.propertiesText === undefined) return
  // a head is `{` + at least one member + `,` (or the whole object but its `}`): never empty after its brace
  if (event.propertiesHead === '') [event.propertiesHead, event.propertiesText] = prependMember(event.propertiesText, name, valueJson)
  else event.propertiesHead = '{' + JSON.stringify(name) + ':' + valueJson + ',' + event.propertiesHead.slice(1)
}

/**
 * Removes the named properties from an event, object and kept text alike
 * (redact-properties.ts, strip-bloat-properties.ts): the text stays the
 * event's own, members cut out, so nothing is serialized again.
 */
export function removeProperties(event: { properties: Record<string, unknown>; propertiesText: string | undefined; propertiesHead: string }, names: readonly string[]): void {
  const props = event.properties
  let removed = false
  for (let i = 0; i < names.length; i++) {
    if (Object.hasOwn(props, names[i])) {
      delete props[names[i]]
      removed = true
    }
  }
  if (removed && event.propertiesText !== undefined) {
    event.propertiesText = withoutMembers(event.propertiesHead + event.propertiesText, names)
    event.propertiesHead = ''
  }
}
