// engine/sink/format/escape.ts: the only place values enter SQL text. Exact literals
// for a table of strings (injection payloads included), a round trip through
// a reference unescaper written from ClickHouse's string-literal rules for
// many random strings, and integers that must never reach SQL.
import t from 'tap'
import { quoteInteger, quoteString } from '../../../../../engine/sink/format/escape'

const LITERALS: { name: string; input: string; literal: string }[] = [
  { name: 'plain text', input: 'abc', literal: "'abc'" },
  { name: 'empty string', input: '', literal: "''" },
  { name: 'single quote', input: "it's", literal: "'it\\'s'" },
  { name: 'only a quote', input: "'", literal: "'\\''" },
  { name: 'backslash', input: 'a\\b', literal: "'a\\\\b'" },
  { name: 'trailing backslash (must not escape the closing quote)', input: 'a\\', literal: "'a\\\\'" },
  { name: 'NUL', input: 'a\0b', literal: "'a\\0b'" },
  { name: 'NUL before a digit stays one NUL and a digit', input: '\x001', literal: "'\\01'" },
  { name: 'newline', input: 'a\nb', literal: "'a\\nb'" },
  { name: 'carriage return', input: 'a\rb', literal: "'a\\rb'" },
  { name: 'tab', input: 'a\tb', literal: "'a\\tb'" },
  { name: 'backspace', input: 'a\bb', literal: "'a\\bb'" },
  { name: 'form feed', input: 'a\fb', literal: "'a\\fb'" },
  { name: 'unicode is kept as is', input: 'café ☕ 🦆 日本', literal: "'café ☕ 🦆 日本'" },
  { name: 'double quotes and backticks need nothing', input: '"x" `y`', literal: "'\"x\" `y`'" },
  { name: 'injection: close the string and add a condition', input: "x' OR 1=1 --", literal: "'x\\' OR 1=1 --'" },
  { name: 'injection: backslash before the quote', input: "\\'; DROP TABLE t; --", literal: "'\\\\\\'; DROP TABLE t; --'" },
  { name: 'injection: doubled quote', input: "x''; DROP TABLE t; --", literal: "'x\\'\\'; DROP TABLE t; --'" },
  { name: 'injection: comment and newline', input: "a'/*\n*/; SELECT 1", literal: "'a\\'/*\\n*/; SELECT 1'" },
  { name: 'a would-be \\N stays a backslash and an N', input: '\\N', literal: "'\\\\N'" },
  { name: 'a would-be \\x escape stays literal', input: '\\x41', literal: "'\\\\x41'" },
]

t.test('quoteString writes the exact ClickHouse literal of each string', async (t) => {
  for (const { name, input, literal } of LITERALS) t.equal(quoteString(input), literal, name)
})

const SINGLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '0': '\0' }

/**
 * Reference reader of one ClickHouse quoted string literal (ReadHelpers'
 * readQuotedString): `\xHH` is a byte, `\N` nothing, `\a \b \f \n \r \t \v \0`
 * their characters, a backslash before anything else that thing, `''` one
 * quote. Throws unless the literal is exactly one quoted string: text after
 * the closing quote would be SQL.
 */
function unquote(literal: string): string {
  if (literal[0] !== "'") throw new Error('does not start with a quote')
  let out = ''
  let i = 1
  for (;;) {
    if (i >= literal.length) throw new Error('unterminated literal')
    const c = literal[i]
    if (c === '\\') {
      const next = literal[i + 1]
      if (next === undefined) throw new Error('backslash at the end')
      if (next === 'x') {
        out += String.fromCharCode(parseInt(literal.slice(i + 2, i + 4), 16))
        i += 4
      } else {
        if (next !== 'N') out += SINGLE_ESCAPES[next] ?? next
        i += 2
      }
    } else if (c === "'") {
      if (literal[i + 1] === "'") {
        out += "'"
        i += 2
      } else {
        if (i !== literal.length - 1) throw new Error(`SQL after the literal: ${JSON.stringify(literal.slice(i + 1))}`)
        return out
      }
    } else {
      out += c
      i++
    }
  }
}

t.test('the reference unescaper reads the table\'s literals back and refuses broken ones', async (t) => {
  for (const { name, input, literal } of LITERALS) t.equal(unquote(literal), input, name)
  t.throws(() => unquote("'x' OR 1=1 --'"), /SQL after the literal/)
  t.throws(() => unquote("'x\\'"), /unterminated/)
})

/** mulberry32: deterministic, so a failure reproduces */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

// the characters that matter, often; then ASCII, control characters and any code point
const SPECIAL = ["'", '\\', '\0', '\n', '\r', '\t', '\b', '\f', '\v', '\x07', '"', '`', 'x', 'N', '0', ';', '-', '/', '*']

function randomString(next: () => number): string {
  const length = Math.floor(next() * 40)
  let s = ''
  for (let i = 0; i < length; i++) {
    const pick = next()
    if (pick < 0.5) s += SPECIAL[Math.floor(next() * SPECIAL.length)]
    else if (pick < 0.7) s += String.fromCharCode(Math.floor(next() * 128))
    else {
      let cp = Math.floor(next() * 0x110000)
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd // lone surrogates do not survive UTF-8
      s += String.fromCodePoint(cp)
    }
  }
  return s
}

t.test('for random strings, reading the literal back by ClickHouse\'s rules gives the original and nothing after it', async (t) => {
  const next = random(0x51ce)
  const failures: { input: string; literal: string; error: string }[] = []
  for (let n = 0; n < 20_000; n++) {
    const input = randomString(next)
    const literal = quoteString(input)
    try {
      const back = unquote(literal)
      if (back !== input) failures.push({ input, literal, error: `read back as ${JSON.stringify(back)}` })
    } catch (err) {
      failures.push({ input, literal, error: (err as Error).message })
    }
  }
  t.same(failures.slice(0, 5), [], 'every literal reads back to its string')
})

t.test('quoteInteger writes safe integers and throws on anything else', async (t) => {
  t.same([0, 7, -42, 2 ** 53 - 1, -(2 ** 53 - 1)].map(quoteInteger), ['0', '7', '-42', '9007199254740991', '-9007199254740991'])
  const bad: [string, unknown][] = [
    ['a fraction', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['2**60, beyond safe integers', 2 ** 60],
    ['-(2**60)', -(2 ** 60)],
    ['a numeric string', '1'],
    ['an injection string', '1; DROP TABLE t'],
    ['a bigint', 5n],
    ['null', null],
    ['undefined', undefined],
  ]
  for (const [name, value] of bad) t.throws(() => quoteInteger(value as number), TypeError, name)
})

t.test('quoteDateTime takes ClickHouse date-times only', async (t) => {
  const { quoteDateTime } = await import('../../../../../engine/sink/format/escape')
  t.equal(quoteDateTime('2026-12-01 10:00:00', 'DateTime'), "toDateTime('2026-12-01 10:00:00', 'UTC')")
  t.equal(quoteDateTime('2026-12-01 10:00:00.123000', 'DateTime64'), "toDateTime64('2026-12-01 10:00:00.123000', 6, 'UTC')")
  for (const bad of ["2026-12-01 10:00:00') OR 1=1 --", '2026-12-01T10:00:00Z', '', 'now()']) t.throws(() => quoteDateTime(bad, 'DateTime'), TypeError, bad)
})
