// `$elements` (an array of element objects, sent by older SDKs) → the text
// of the `elements_chain` column, built as PostHog builds it, so that
// autocapture insights (selector, text and href filters) match the same rows.
// Follows PostHog's nodejs/src/utils/db/elements-chain.ts (`extractElements`,
// `elementsToString`); Rust capture passes `$elements` through untouched, so
// the Node builder is the only implementation to follow here.
//
//   element:  tag.classA.classB:attr__id="x"href="/a"nth-child="1"nth-of-type="0"text="Buy"
//   chain:    element;element;…   (the clicked element first, as the SDK lists them)
//
// Classes sorted, `"` removed from them; attributes sorted by key with
// localeCompare (as PostHog does), keys and values with `"` escaped as `\"`.

type Obj = Record<string, unknown>

const TEXT_LIMIT = 400
const HREF_LIMIT = 2048

const escapeQuotes = (s: string) => (s.includes('"') ? s.replace(/"/g, '\\"') : s)

/** `attr__class` as a list: an array as sent, a string split on single spaces (PostHog's extractAttrClass). */
function classesOf(v: unknown): string[] | undefined {
  if (!v) return undefined
  if (Array.isArray(v)) return v.map(String)
  return String(v).split(' ')
}

/** A value as JavaScript's toString would print it; null and undefined have none (PostHog's builder throws on them). */
function text(v: unknown): string {
  if (v === null || v === undefined) throw new TypeError('attribute without a value')
  return String(v)
}

function elementText(el: Obj): string {
  let s = typeof el.tag_name === 'string' || (el.tag_name && typeof el.tag_name !== 'object') ? String(el.tag_name) : ''
  const classes = classesOf(el.attr__class)
  if (classes) for (const c of classes.sort()) s += '.' + c.replace(/"/g, '')
  const attrs: [string, unknown][] = []
  const elText = typeof el.$el_text === 'string' ? el.$el_text.slice(0, TEXT_LIMIT) : el.$el_text
  if (elText) attrs.push(['text', elText])
  attrs.push(['nth-child', el.nth_child ?? 0], ['nth-of-type', el.nth_of_type ?? 0])
  const href = typeof el.attr__href === 'string' ? el.attr__href.slice(0, HREF_LIMIT) : el.attr__href
  if (href) attrs.push(['href', href])
  if (el.attr__id) attrs.push(['attr_id', el.attr__id])
  for (const key of Object.keys(el)) if (key.startsWith('attr__')) attrs.push([key, el[key]])
  // later members win over earlier ones of the same key, as in an object spread
  const byKey = new Map<string, unknown>()
  for (const [k, v] of attrs) byKey.set(k, v)
  const keys = [...byKey.keys()].sort((a, b) => a.localeCompare(b))
  s += ':'
  for (const k of keys) s += escapeQuotes(k) + '="' + escapeQuotes(text(byKey.get(k))) + '"'
  return s
}

/**
 * The chain for an `$elements` array; '' when it is empty, not an array, or
 * holds what PostHog's builder cannot print (it then stores '' as well).
 */
export function elementsChainOf(elements: unknown): string {
  if (!Array.isArray(elements) || elements.length === 0) return ''
  try {
    const parts: string[] = []
    for (const el of elements) parts.push(elementText(typeof el === 'object' && el !== null ? el as Obj : {}))
    return parts.join(';')
  } catch {
    return ''
  }
}
