// The pure parts of persons (DESIGN §4b): uuidv5 person ids, property
// application, merge decisions, and the worker step's intents (through
// processBatch, without threads).
import { createHash } from 'node:crypto'
import t from 'tap'
import { personIdOf, uuidv5 } from '../../../../workers/persons/uuidv5'
import { automaticPresence, automaticProperties, automaticValues, isIllegalDistinctId } from '../../../../workers/persons/rules'
import { applyIntent, decideMerge, mergeProperties } from '../../../../workers/persons/properties'
import { processBatch } from '../../../../workers/index'
import { taskOf } from '../../../harness/tasks'
import { capturedMessage } from '../../../harness/events'
import { foldAll } from '../../../../engine/control/fold'
import { buildSnapshot } from '../../../../engine/control/snapshot'
import { PERSON_IDENTIFY, PERSON_PERSONLESS, PERSON_UPDATE } from '../../../../workers/protocol'
import { IntentReader, readIntents as unpackIntents } from '../../../../workers/intent-codec'


/** a new person's properties as they travel (UTF-8 bytes), as text */
const textOf = (bytes: Uint8Array | null): string | null => bytes === null ? null : Buffer.from(bytes).toString('utf8')

t.test('uuidv5 matches RFC 4122 and Python uuid.uuid5 in the person namespace', async (t) => {
  // RFC 4122's DNS example (also python: uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com'))
  t.equal(uuidv5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'), '2ed6657d-e927-568b-95e1-2665a8aea6a2')
  // python3: uuid.uuid5(uuid.UUID('932979b4-65c3-4424-8467-0b66ec27bc22'), '2:user-1'), as PostHog's uuidFromDistinctId(2, 'user-1')
  t.equal(personIdOf(2, 'user-1'), '1e7731c8-945c-520d-96b9-e7f088242010')
  t.equal(personIdOf(42, 'user-1'), '450a3186-cebb-5d4f-94b3-155369e68dfb')
  t.equal(personIdOf(1, 'anon-ü'), '06bfe547-0531-577a-a4a9-06e30b09dd8b', 'UTF-8 names')
  t.not(personIdOf(1, 'x'), personIdOf(2, 'x'), 'environments never share a person id')
  // the hash input is written into a reused buffer: a name too long for it (a buffer of its own), then a short one
  const reference = (name: string) => {
    const b = createHash('sha1').update(Buffer.from('932979b465c3442484670b66ec27bc22', 'hex')).update(name).digest('hex')
    return [b.slice(0, 8), b.slice(8, 12), '5' + b.slice(13, 16), ((parseInt(b[16], 16) & 3) | 8).toString(16) + b.slice(17, 20), b.slice(20, 32)].join('-')
  }
  const long = '9:' + 'ü☕'.repeat(700)
  t.equal(uuidv5(long, '932979b4-65c3-4424-8467-0b66ec27bc22'), reference(long), 'a name longer than the scratch buffer')
  t.equal(uuidv5('1:x', '932979b4-65c3-4424-8467-0b66ec27bc22'), reference('1:x'), 'a short name after it')
})

t.test('illegal distinct_ids: case-insensitive list, exact list, blank', async (t) => {
  for (const id of ['anonymous', 'Guest', 'DISTINCT_ID', 'distinctid', 'id', 'not_authenticated', 'email', 'undefined', 'true', 'False', '0', 'null', '[object Object]', 'NaN', 'None', '  ', ' anonymous ']) t.ok(isIllegalDistinctId(id), id)
  for (const id of ['user-1', 'nan', 'NULL0', '00', 'a@b.c']) t.notOk(isIllegalDistinctId(id), id)
})

t.test('automaticPresence: the masks of automaticValues', async (t) => {
  for (const props of [
    { $browser: 'Chrome', $os_name: 'iOS', plan: 'pro', utm_source: 'x' },
    { $current_url: 'https://a.example/"quoted"\\path', $browser_version: 120, gclid: null, rdt_cid: 'last', utm_term: { nested: 1 } },
    { plan: 'pro' },
  ]) {
    const values = automaticValues(props)
    t.same(automaticPresence(props), values === undefined ? { lo: 0, hi: 0 } : { lo: values.lo, hi: values.hi })
  }
})

t.test('automatic properties: current values into $set, first values into $set_once as $initial_*; $os from $os_name', async (t) => {
  t.same(automaticProperties({ $browser: 'Chrome', $os_name: 'iOS', plan: 'pro', utm_source: 'x' }), {
    set: { $browser: 'Chrome', $os: 'iOS', utm_source: 'x' },
    setOnce: { $initial_browser: 'Chrome', $initial_os: 'iOS', $initial_utm_source: 'x' },
  })
  t.equal(automaticProperties({ plan: 'pro' }), undefined)
})

t.test('applyIntent: $set_once fills, $set changes, $unset removes; nothing changed → undefined', async (t) => {
  const current = { a: 1, $browser: 'Chrome', $initial_browser: 'Chrome', nested: { x: 1 } }
  t.same(applyIntent(current, { setOnce: { a: 2, b: 3 } }), { ...current, b: 3 }, 'set_once keeps a, adds b')
  t.same(applyIntent(current, { set: { a: 2 } }), { ...current, a: 2 })
  t.same(applyIntent(current, { unset: ['a', 'missing'] }), { $browser: 'Chrome', $initial_browser: 'Chrome', nested: { x: 1 } })
  t.equal(applyIntent(current, { set: { a: 1, nested: { x: 1 } }, setOnce: { a: 5 }, unset: ['zz'] }), undefined, 'no change, no write')
  t.equal(applyIntent(current, { set: { $browser: 'Firefox' } }), undefined, 'an automatic key changing alone writes nothing')
  t.same(applyIntent(current, { set: { $browser: 'Firefox' }, force: true }), { ...current, $browser: 'Firefox' }, 'unless it is a person event')
  t.same(applyIntent(current, { set: { $browser: 'Firefox', plan: 'pro' } }), { ...current, $browser: 'Firefox', plan: 'pro' }, 'or something else changes with it')
  t.same(applyIntent({}, { set: { $browser: 'Firefox' } }), { $browser: 'Firefox' }, 'a new automatic key is written')
  const hostile = JSON.parse('{"__proto__": {"polluted": 1}, "ok": 1}') as Record<string, unknown>
  const applied = applyIntent({}, { set: hostile, setOnce: hostile })!
  t.same([Object.getPrototypeOf(applied) === Object.prototype, applied.ok, ({} as Record<string, unknown>).polluted], [true, 1, undefined], '__proto__ in $set is skipped')
  t.same(current, { a: 1, $browser: 'Chrome', $initial_browser: 'Chrome', nested: { x: 1 } }, 'the input is never modified')
})

t.test('mergeProperties: the surviving person wins, $initial_* of the older one', async (t) => {
  t.same(mergeProperties({ a: 1, $initial_x: 'new' }, 2000, { a: 0, b: 2, $initial_x: 'old' }, 1000), { a: 1, b: 2, $initial_x: 'old' })
  t.same(mergeProperties({ a: 1, $initial_x: 'first' }, 1000, { b: 2, $initial_x: 'later' }, 2000), { a: 1, b: 2, $initial_x: 'first' })
})

t.test('decideMerge: PostHog rules', async (t) => {
  const anon = { id: 'p1', isIdentified: false }
  const known = { id: 'p2', isIdentified: true }
  t.same(decideMerge(undefined, undefined, false), { kind: 'create' })
  t.same(decideMerge(undefined, anon, false), { kind: 'adopt_other' })
  t.same(decideMerge(known, undefined, false), { kind: 'adopt_this' })
  t.same(decideMerge(anon, anon, false), { kind: 'same' })
  t.same(decideMerge(known, anon, false), { kind: 'merge' })
  t.same(decideMerge(anon, known, false), { kind: 'refuse_identified' }, 'an identified person is never absorbed by $identify')
  t.same(decideMerge(anon, known, true), { kind: 'merge' }, '$merge_dangerously may')
})

t.test('the person step: one intent per stored event, merges checked, personless stripped or dropped', async (t) => {
  const { state } = foldAll([{ type: 'create_project', request_id: 'r1', at: '2025-03-04T05:06:00.000Z', name: 'Shop', api_token: 'phc_persons' }])
  const snapshot = buildSnapshot(state, 77)
  const m = (event: string, distinct_id: string, properties: Record<string, unknown>) => capturedMessage({ token: 'phc_persons', event, distinct_id, properties })
  const task = taskOf([
    m('$pageview', 'anon-1', { $browser: 'Chrome', $set: { plan: 'free' } }),
    m('$identify', 'user-1', { $anon_distinct_id: 'anon-1', $set: { email: 'a@b.c' } }),
    m('$identify', 'user-2', { $anon_distinct_id: 'anonymous' }),
    m('$identify', 'user-3', { $anon_distinct_id: 'user-3' }),
    m('$pageview', 'anon-2', { $process_person_profile: false, $set: { plan: 'x' } }),
    m('$identify', 'anon-2', { $process_person_profile: false, $anon_distinct_id: 'a' }),
    m('$set', 'user-4', { $set: 'not an object', $unset: ['old'] }),
  ], { snapshot, nowMs: Date.parse('2025-03-04T05:10:00Z'), kafkaTimestamp: 1741064761500 })
  const { header, rows } = processBatch(task, { dateTime: 'DateTime64', format: 'JSONEachRow', persons: true })
  const first = unpackIntents(header.intents)[0]
  t.same(JSON.parse(textOf(first.newProperties)!), { $initial_browser: 'Chrome', $browser: 'Chrome', plan: 'free' },
    'a user new to the thread: the properties of a person this event creates travel with the intent (as the main thread computes them)')
  t.same([first.newLo, first.newHi], [1 << 4, 0], 'and which automatic keys they hold')
  t.equal(unpackIntents(header.intents)[4].newProperties, null, 'none for a personless event')
  const keys: unknown[][] = []
  for (const r = new IntentReader(header.intents); r.next(true);) keys.push([r.team, r.distinctId, r.personId, r.other, r.set, r.newProperties, r.autoText])
  t.same(keys, unpackIntents(header.intents).map((i) => [i.team, i.distinctId, i.personId, i.other, null, null, null]),
    'the cache fetch reads each intent\'s key in place (team, distinct_id, person id, the other distinct_id), the rest skipped, in the same order')
  t.same(keys[1].slice(1, 4), ['user-1', unpackIntents(header.intents)[1].personId, 'anon-1'], 'a merge\'s key names the other distinct_id')
  t.same(unpackIntents(header.intents).map((i) => i.autoText), ['{"$browser":"Chrome"}', null, null, null, null, null],
    'the automatic values travel with an event that also writes something else (here a $set); the others have none')
  const intents = unpackIntents(header.intents).map(({ timestampMs: _t, team: _team, personId, newProperties: _text, newLo: _lo, newHi: _hi, autoText: _auto, ...rest }) => {
    t.equal(personId, personIdOf(1, rest.distinctId), 'the deterministic person id of a user new to the thread, computed in the worker')
    // every field is present (null / false / 0 when absent); compare what is set, the automatic values parsed
    const set = Object.fromEntries(Object.entries(rest).filter(([k, v]) => v !== null && v !== false && !(v === 0 && (k === 'autoLo' || k === 'autoHi'))))
    return set
  })
  t.same(intents, [
    { distinctId: 'anon-1', kind: PERSON_UPDATE, set: { plan: 'free' }, autoLo: 1 << 4, kafkaMs: 1741064761500 },
    { distinctId: 'user-1', kind: PERSON_IDENTIFY, set: { email: 'a@b.c' }, force: true, other: 'anon-1', kafkaMs: 1741064761500 },
    { distinctId: 'user-2', kind: PERSON_UPDATE, force: true, kafkaMs: 1741064761500 },
    { distinctId: 'user-3', kind: PERSON_UPDATE, force: true, kafkaMs: 1741064761500 },
    { distinctId: 'anon-2', kind: PERSON_PERSONLESS, kafkaMs: 1741064761500 },
    { distinctId: 'user-4', kind: PERSON_UPDATE, unset: ['old'], force: true, kafkaMs: 1741064761500 },
  ])
  t.equal(header.eventRows, 6)
  const again = unpackIntents(processBatch(task, { dateTime: 'DateTime64', format: 'JSONEachRow', persons: true }).header.intents)
  t.same(again.map((i) => [i.personId, i.newProperties]), again.map(() => [null, null]), 'users the thread saw lately: neither their id nor new-person properties travel again')
  t.same(header.drops, { invalid_process_person_profile: 1 }, 'a personless merge is dropped')
  t.same(header.warnings.map((w) => w[1]), ['cannot_merge_with_illegal_distinct_id', 'invalid_process_person_profile', 'invalid_person_properties'])
  const lines = Buffer.from(rows.bytes()).toString('utf8').split('\n')
  t.equal(header.rowEnds!.length, 6)
  t.notMatch(JSON.parse(lines[4]).properties, /\$set/, 'a personless event keeps no $set')
})

t.test('the properties of a new person, computed in the worker: $set_once fills first, $set wins, $unset removes, the automatic keys and $initial_* join', async (t) => {
  const { state } = foldAll([{ type: 'create_project', request_id: 'r1', at: '2025-03-04T05:06:00.000Z', name: 'Shop', api_token: 'phc_newperson' }])
  const snapshot = buildSnapshot(state, 78)
  const m = (distinct_id: string, properties: Record<string, unknown>, event = 'viewed') => capturedMessage({ token: 'phc_newperson', event, distinct_id, properties })
  const task = taskOf([
    m('np-1', { $browser: 'Firefox', $os_name: 'iOS', $set: { $browser: 'Edge', plan: 'pro' }, $set_once: { plan: 'free', first_seen: 'x' } }),
    m('np-2', { utm_source: 'ads', $unset: ['utm_source'], $set_once: { a: 1 } }),
    m('np-3', { plan: 'none of the automatic keys' }),
    m('np-4', { $set: { nested: { deep: [1, 2] } } }, '$set'),
    m('np-5', { $browser: 'Chrome', $os: 'Linux', $os_name: 'ignored', gclid: null, utm_term: { not: 'scalar' }, $current_url: 'https://a.example/"q"' }),
  ], { snapshot, nowMs: Date.parse('2025-03-04T05:10:00Z'), kafkaTimestamp: 1741064761500 })
  const intents = unpackIntents(processBatch(task, { dateTime: 'DateTime64', format: 'JSONEachRow', persons: true }).header.intents)
  const texts = intents.map((i) => textOf(i.newProperties))
  t.same(texts, [
    // setOnce first ($initial_* then the event's own), then $set (the event's own over the automatic ones) in place or after
    '{"$initial_browser":"Firefox","$initial_os":"iOS","plan":"pro","first_seen":"x","$browser":"Edge","$os":"iOS"}',
    '{"$initial_utm_source":"ads","a":1}',
    '{}',
    '{"nested":{"deep":[1,2]}}',
    JSON.stringify(applyIntent({}, automaticProperties({ $browser: 'Chrome', $os: 'Linux', gclid: null, $current_url: 'https://a.example/"q"' })!)),
  ], 'the same text the main thread would write for each (JSON key order included)')
  t.same([intents[4].newLo, intents[4].newHi], [intents[4].autoLo, intents[4].autoHi], 'automatic keys alone: every one held')
  const expected = applyIntent({}, { set: { $browser: 'Edge', $os: 'iOS', plan: 'pro' }, setOnce: { $initial_browser: 'Firefox', $initial_os: 'iOS', plan: 'free', first_seen: 'x' } })
  t.same(JSON.parse(texts[0]!), expected, 'the main thread\'s rule, applied to an empty person')
  t.same([intents[0].newLo, intents[1].newLo, intents[2].newLo], [(1 << 4) | (1 << 9), 0, 0], 'automatic keys held with their $initial_* (utm_source was unset)')
})

t.test('top level of the event: $set and $set_once are applied; $unset is not, as in PostHog (it reads $unset only from properties)', async (t) => {
  const { state } = foldAll([{ type: 'create_project', request_id: 'r1', at: '2025-03-04T05:06:00.000Z', name: 'Shop', api_token: 'phc_persons' }])
  const snapshot = buildSnapshot(state, 77) // the same state as above: the same version
  // capture's message with fields added to the top level of the event (`data`)
  const raw = (top: Record<string, unknown>, properties: Record<string, unknown>) => {
    const outer = JSON.parse(capturedMessage({ token: 'phc_persons', event: '$set', distinct_id: 'user-1', properties })) as Record<string, unknown>
    return JSON.stringify({ ...outer, data: JSON.stringify({ ...JSON.parse(outer.data as string), ...top }) })
  }
  const task = taskOf([
    raw({ $set: { plan: 'pro' }, $set_once: { first: 'a' }, $unset: ['plan', 'email'] }, { $unset: ['from_properties'] }),
    raw({ $unset: ['email'] }, {}),
  ], { snapshot, nowMs: Date.parse('2025-03-04T05:10:00Z'), kafkaTimestamp: 1741064761500 })
  const { header, rows } = processBatch(task, { dateTime: 'DateTime64', format: 'JSONEachRow', persons: true })
  const [first, second] = unpackIntents(header.intents)
  t.same([first.set, first.setOnce, first.unset], [{ plan: 'pro' }, { first: 'a' }, ['from_properties']], 'top-level $set/$set_once taken; only the properties\' $unset')
  t.equal(second.unset, null, 'a top-level $unset alone unsets nothing')
  const stored = Buffer.from(rows.bytes()).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(JSON.parse(l).properties) as Record<string, unknown>)
  t.notOk('$unset' in stored[1], 'and is not stored with the event')
})
