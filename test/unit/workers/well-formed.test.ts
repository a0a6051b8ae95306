// workers/well-formed.ts: the one encoder for well-formed text. One table of
// edge cases: lone surrogates raw and escaped become U+FFFD, pairs (raw or two
// escapes) are kept, escaped backslashes are never taken for escapes.
import t from 'tap'
import { jsonText, wellFormed, wellFormedJson, wellFormedJsonText } from '../../../workers/well-formed'

const FFFD = '\\ufffd'

const allWellFormed = (v: unknown): boolean =>
  typeof v === 'string' ? v.isWellFormed()
    : Array.isArray(v) ? v.every(allWellFormed)
      : typeof v === 'object' && v !== null ? Object.entries(v).every(([k, x]) => k.isWellFormed() && allWellFormed(x)) : true

// [name, JSON text in, JSON text out]
const JSON_CASES: [string, string, string][] = [
  ['plain ASCII', '{"a":"b"}', '{"a":"b"}'],
  ['a lone high surrogate escape', '"\\ud800x"', `"${FFFD}x"`],
  ['a lone high escape, upper case', '"\\uD83Dx"', `"${FFFD}x"`],
  ['a lone low surrogate escape', '"x\\udc00"', `"x${FFFD}"`],
  ['a pair of escapes (kept)', '"\\ud83d\\ude00"', '"\\ud83d\\ude00"'],
  ['a pair of escapes, mixed case (kept)', '"\\uD83D\\uDE00"', '"\\uD83D\\uDE00"'],
  ['low then high escape (both lone)', '"\\udc00\\ud800"', `"${FFFD}${FFFD}"`],
  ['two high escapes', '"\\ud800\\ud800\\udc00"', `"${FFFD}\\ud800\\udc00"`],
  ['high escape at the end', '"a\\ud800"', `"a${FFFD}"`],
  ['an escaped backslash before ud800 (text, not an escape)', '"\\\\ud800"', '"\\\\ud800"'],
  ['three backslashes: escaped backslash, then an escape', '"\\\\\\ud800"', `"\\\\${FFFD}"`],
  ['four backslashes: two escaped backslashes', '"\\\\\\\\ud800"', '"\\\\\\\\ud800"'],
  ['a non-surrogate escape is left alone', '"\\u00e9\\u0000\\ufffe"', '"\\u00e9\\u0000\\ufffe"'],
  ['a raw lone high surrogate', '"a\ud800b"', '"a\ufffdb"'],
  ['a raw lone low surrogate', '"a\udc00b"', '"a\ufffdb"'],
  ['a raw pair (emoji) is kept', '"😀"', '"😀"'],
  ['a raw high before an escaped low: both lone', '"\ud800\\udc00"', `"\ufffd${FFFD}"`],
  ['BOM, NUL escape, non-characters are well-formed', '"\ufeff\\u0000\uffff\ufdd0"', '"\ufeff\\u0000\uffff\ufdd0"'],
  ['combining run', '"e' + '\u0301'.repeat(50) + '"', '"e' + '\u0301'.repeat(50) + '"'],
  ['nested data string: the escape is one level down (kept at this level)', '{"data":"{\\"d\\":\\"\\\\ud800\\"}"}', '{"data":"{\\"d\\":\\"\\\\ud800\\"}"}'],
  ['a key with a lone escape', '{"\\ud800":1}', `{"${FFFD}":1}`],
]

for (const [name, input, expected] of JSON_CASES) {
  t.test(`wellFormedJson: ${name}`, async (t) => {
    const out = wellFormedJson(input)
    t.equal(out, expected)
    t.ok(out.isWellFormed(), 'no raw lone surrogate')
    t.doesNotThrow(() => JSON.parse(out), 'still JSON')
    t.ok(allWellFormed(JSON.parse(out)), 'parses to well-formed strings (keys and values)')
  })
}

t.test('jsonText: the parsed value holds U+FFFD where a lone surrogate was', async (t) => {
  t.same(JSON.parse(jsonText({ d: '\ud800x', [`k\udfff`]: ['\ud83d\ude00', '\udc00'] })), { d: '\ufffdx', 'k\ufffd': ['😀', '\ufffd'] })
  t.equal(jsonText(undefined), 'null')
  t.equal(jsonText('\\ud800'), '"\\\\ud800"', 'a string holding a backslash and letters is kept as it is')
})

t.test('the nested data string is fixed when it is parsed at its own level', async (t) => {
  const outer = wellFormedJson('{"data":"{\\"d\\":\\"\\\\ud800x\\"}"}')
  const data = wellFormedJson(JSON.parse(outer).data)
  t.same(JSON.parse(data), { d: '\ufffdx' })
})

t.test('wellFormed: plain text', async (t) => {
  t.equal(wellFormed('ok'), 'ok')
  t.equal(wellFormed('a\ud800'), 'a\ufffd')
  t.equal(wellFormed('\\ud800'), '\\ud800', 'escapes mean nothing outside JSON')
})

t.test('the encoder agrees with Buffer (the RowBinary path) on raw text', async (t) => {
  for (const s of ['\ud800', 'a\udc00b', '😀', '\ud83d', '\ude00\ud83d']) {
    t.equal(Buffer.from(s).toString('utf8'), wellFormed(s), JSON.stringify(s))
  }
})

t.test('wellFormedJsonText: says when a string nested in the text may still spell a lone surrogate', async (t) => {
  t.same(wellFormedJsonText('{"data":"{\\"d\\":\\"x\\"}"}'), { text: '{"data":"{\\"d\\":\\"x\\"}"}', nested: false })
  t.same(wellFormedJsonText('"\\u00e9\\u0000"'), { text: '"\\u00e9\\u0000"', nested: false }, 'other escapes are no reason')
  t.equal(wellFormedJsonText('{"data":"\\\\ud800"}').nested, true, 'an escape one level down')
  t.equal(wellFormedJsonText('{"data":"\\u005cud800"}').nested, true, 'a backslash spelled as an escape')
  t.same(wellFormedJsonText('"\\ud800x"'), { text: `"${FFFD}x"`, nested: true }, 'this level is fixed as wellFormedJson does')
})
