// workers/properties-text.ts: the text found for `properties` always parses to
// what JSON.parse made of `properties`, or nothing is found (the encoder then
// serializes the object); and prependMember adds one member to such a text.
import t from 'tap'
import { findPropertiesText, prependMember, withoutMembers } from '../../../workers/properties-text'

const CASES: { name: string; data: string; found: string | undefined }[] = [
  { name: 'compact', data: '{"event":"e","properties":{"a":1},"timestamp":"t"}', found: '{"a":1}' },
  { name: 'whitespace everywhere', data: ' {\n "event" : "e" ,\n "properties" :\t{ "a" : [ 1 , {"b":"}"} ] } \n} ', found: '{ "a" : [ 1 , {"b":"}"} ] }' },
  { name: 'strings holding quotes, braces and backslashes', data: '{"x":"\\"}{[","properties":{"k":"\\\\","l":"\\\\\\"}"},"y":"\\\\"}', found: '{"k":"\\\\","l":"\\\\\\"}"}' },
  { name: 'a "properties" key nested deeper is not it', data: '{"a":{"properties":{"no":1}},"properties":{"yes":2}}', found: '{"yes":2}' },
  { name: 'a "properties" string value is not a key', data: '{"event":"properties","properties":{"k":1}}', found: '{"k":1}' },
  { name: 'the last of duplicate keys, as JSON.parse', data: '{"properties":{"first":1},"properties":{"second":2}}', found: '{"second":2}' },
  { name: 'a later non-object duplicate wins', data: '{"properties":{"first":1},"properties":5}', found: undefined },
  { name: 'an escaped key that spells properties', data: '{"properties":{"a":1},"propert\\u0069es":{"b":2}}', found: undefined },
  { name: 'properties an array', data: '{"properties":[1,2]}', found: undefined },
  { name: 'no properties', data: '{"event":"e","n":-1.5e3,"t":true,"f":false,"z":null}', found: undefined },
  { name: 'empty object', data: '{"properties":{}}', found: '{}' },
  { name: 'numbers and literals around it', data: '{"a":1,"b":true,"properties":{"n":1e400},"c":null}', found: '{"n":1e400}' },
]

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const parsed = JSON.parse(c.data) as { properties?: unknown }
    const found = findPropertiesText(c.data)
    t.equal(found, c.found)
    if (found !== undefined) t.same(JSON.parse(found), parsed.properties, 'parses to what JSON.parse made of properties')
  })
}

t.test('random events: the text found parses to the parsed properties', async (t) => {
  let seed = 42
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return Math.floor(seed / 65536) % n }
  const strings = ['', 'a', '"', '\\', '}', '{"properties":{}}', 'é☕🦆', '\n\t', 'properties']
  const value = (depth: number): unknown => {
    switch (rand(depth > 2 ? 4 : 6)) {
      case 0: return strings[rand(strings.length)]
      case 1: return rand(1000) - 500 + rand(100) / 7
      case 2: return rand(2) === 0
      case 3: return null
      case 4: return Array.from({ length: rand(4) }, () => value(depth + 1))
      default: return objectValue(depth)
    }
  }
  const objectValue = (depth: number): Record<string, unknown> =>
    Object.fromEntries(Array.from({ length: rand(5) }, () => [strings[rand(strings.length)] + rand(9), value(depth + 1)]))
  let found = 0
  for (let i = 0; i < 500; i++) {
    const data: Record<string, unknown> = {}
    for (const k of ['event', 'properties', 'timestamp', 'uuid', '$set'].filter(() => rand(3) > 0)) data[k] = k === 'properties' && rand(3) > 0 ? objectValue(1) : value(2)
    const text = JSON.stringify(data, null, rand(2) === 0 ? undefined : 1)
    const result = findPropertiesText(text)
    const props = data.properties
    const isObject = typeof props === 'object' && props !== null && !Array.isArray(props)
    if (isObject !== (result !== undefined)) t.fail(`object found only when properties is one: ${text}`)
    if (result !== undefined) {
      found++
      t.same(JSON.parse(result), props)
    }
  }
  t.ok(found > 50, `${found} objects checked`)
})

t.test('prependMember puts the member first, in an empty object too', async (t) => {
  t.equal(prependMember('{"a":1}', '$ip', '"1.2.3.4"').join(''), '{"$ip":"1.2.3.4","a":1}')
  t.equal(prependMember('{ }', '$ip', '"1.2.3.4"').join(''), '{"$ip":"1.2.3.4" }')
  t.equal(prependMember('{}', 'say "x"', '1').join(''), '{"say \\"x\\"":1}')
  t.same(JSON.parse(prependMember('{\n "a" : [1] }', 'k', 'null').join('')), { k: null, a: [1] })
})

t.test('absurd nesting is not passed through: the object is serialized again (which fails past V8\'s stack)', async (t) => {
  t.equal(findPropertiesText(`{"properties":{"d":${'['.repeat(300)}${']'.repeat(300)}}}`), undefined)
  t.equal(findPropertiesText(`{"properties":{"d":${'['.repeat(200)}${']'.repeat(200)}}}`), `{"d":${'['.repeat(200)}${']'.repeat(200)}}`)
})

t.test('withoutMembers leaves out the named top-level members, every occurrence', async (t) => {
  const cases: [string, string[], string | undefined][] = [
    ['{"a":1,"b":2,"c":3}', ['b'], '{"a":1,"c":3}'],
    ['{"a":1,"b":2,"c":3}', ['a'], '{"b":2,"c":3}'],
    ['{"a":1,"b":2,"c":3}', ['c'], '{"a":1,"b":2}'],
    ['{"a":1,"b":2,"c":3}', ['a', 'b', 'c'], '{}'],
    ['{"a":1,"b":2,"c":3}', ['b', 'c'], '{"a":1}'],
    ['{ "a" : {"b":[1,"}"]} , "b" : "x" }', ['b'], '{"a" : {"b":[1,"}"]}}'],
    ['{"a":1, "b":2, "c":3, "d":4}', ['c'], '{"a":1, "b":2,"d":4}'],
    ['{"a":1}', ['b'], '{"a":1}'],
    ['{"$ip":"1.2.3.4","a":1,"$ip":"5.6.7.8"}', ['$ip'], '{"a":1}'],
    ['{"x":{"a":1}}', ['a'], '{"x":{"a":1}}'],
    ['{}', ['a'], '{}'],
    ['{"\\u0061":1}', ['a'], undefined],
  ]
  for (const [text, names, expected] of cases) t.equal(withoutMembers(text, names), expected, `${text} without ${names.join(', ')}`)
})

t.test('random objects: what withoutMembers leaves parses to the object without those keys', async (t) => {
  let seed = 7
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return Math.floor(seed / 65536) % n }
  const keys = ['a', 'b', '$ip', '$referrer', 'c d', 'é']
  for (let i = 0; i < 300; i++) {
    const entries: [string, unknown][] = Array.from({ length: rand(7) }, () => [keys[rand(keys.length)], rand(3) === 0 ? { [keys[rand(6)]]: [rand(9)] } : rand(2) === 0 ? 'v,"}' : rand(100)])
    // JSON text with possible duplicate keys, compact or spaced
    const sep = rand(2) === 0 ? '' : ' '
    const text = '{' + sep + entries.map(([k, v]) => JSON.stringify(k) + sep + ':' + sep + JSON.stringify(v)).join(',' + sep) + sep + '}'
    const drop = keys.filter(() => rand(3) === 0)
    const expected = JSON.parse(text) as Record<string, unknown>
    for (const k of drop) delete expected[k]
    const result = withoutMembers(text, drop)
    if (result === undefined) { t.fail(`no result for ${text}`); continue }
    t.same(JSON.parse(result), expected)
  }
})
