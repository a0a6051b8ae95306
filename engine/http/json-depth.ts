// A capture body's nesting depth, measured on the text before anything
// recurses into it: JSON.parse copes with deep input, but JSON.stringify
// (the Kafka message) and every later walk would overflow the stack (a body
// nesting 5,000 levels deep used to answer 500). One linear pass, no
// allocation; strings are skipped so brackets inside them do not count.

/** Most levels of objects and arrays a capture request may nest (the request itself is level 1). */
export const MAX_JSON_DEPTH = 64

/** The deepest nesting of `text`, or the first depth over `limit` (scanning stops there). */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
      continue
    }
    if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > max) {
        max = depth
        if (max > limit) return max
      }
    } else if (c === 125 || c === 93) depth--
  }
  return max
}
