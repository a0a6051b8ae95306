// workers/intent-codec.ts: person intents written by a worker read back on
// the main thread, every field, in place (one reader object) and as copies.
import t from 'tap'
import { IntentReader, IntentWriter, readIntents } from '../../../workers/intent-codec'
import { PERSON_IDENTIFY, PERSON_PERSONLESS, PERSON_UPDATE, type PersonIntent } from '../../../workers/protocol'

const base: PersonIntent = {
  team: 7, distinctId: 'u', kind: PERSON_UPDATE, personId: null, set: null, setOnce: null, autoLo: 0, autoHi: 0,
  newText: null, newLo: 0, newHi: 0, autoText: null, unset: null, other: null, force: false, timestampMs: 0, kafkaMs: 0,
}

const full: PersonIntent = {
  team: 2 ** 40 + 3, distinctId: 'ünïcode 🦆 user', kind: PERSON_IDENTIFY, personId: '0c1f3a2e-5b6d-5e7f-8a9b-0c1d2e3f4a5b',
  set: { email: 'a@b.c', nested: { deep: [1, 'two', null] } }, setOnce: { first: true }, autoLo: 0x80000001 >>> 0, autoHi: 5,
  newText: '{"$initial_browser":"Chrome","big":"' + 'é'.repeat(20_000) + '"}', newLo: 1 << 30, newHi: 0xffffffff,
  autoText: '{"$browser":"Chrome"}', unset: ['old', 'older'], other: 'anon-☕', force: true,
  timestampMs: 1_741_064_761_500.25, kafkaMs: 1_741_064_761_999,
}

/** what the main thread reads for an intent the worker wrote: newText as its UTF-8 bytes */
function expected(i: PersonIntent) {
  const { newText, ...rest } = i
  return { ...rest, newProperties: newText === null ? null : Buffer.from(newText) }
}

const asBuffers = (intents: ReturnType<typeof readIntents>) => intents.map((i) => ({ ...i, newProperties: i.newProperties === null ? null : Buffer.from(i.newProperties) }))

t.test('every field of every intent comes back as written, in order (UTF-8 strings, long text, 32-bit masks, fractional times)', async (t) => {
  const w = new IntentWriter(16) // grows as it goes
  const intents: PersonIntent[] = [base, full, { ...base, kind: PERSON_PERSONLESS, distinctId: '', team: 0 }, { ...base, newText: '{}' }]
  for (const i of intents) w.add(i)
  t.same(asBuffers(readIntents(w.bytes())), intents.map(expected))
})

t.test('read in place: one object whose fields are the current intent\'s; optional fields reset between intents', async (t) => {
  const w = new IntentWriter()
  w.add(full)
  w.add(base)
  const r = new IntentReader(w.bytes())
  t.ok(r.next())
  t.equal(r.other, 'anon-☕')
  t.ok(r.next())
  t.same([r.personId, r.set, r.setOnce, r.newProperties, r.newLo, r.newHi, r.autoText, r.unset, r.other, r.force], [null, null, null, null, 0, 0, null, null, null, false],
    'what the second intent lacks is not left over from the first')
  t.notOk(r.next(), 'false after the last')
  t.notOk(new IntentReader(undefined).next(), 'no intents (persons off)')
})

t.test('keys only (the cache fetch): team, distinct_id, person id and the other distinct_id; the rest skipped, not parsed', async (t) => {
  const w = new IntentWriter()
  w.add(full)
  w.add({ ...base, distinctId: 'next', set: { a: 1 } })
  const r = new IntentReader(w.bytes())
  t.ok(r.next(true))
  t.same([r.team, r.distinctId, r.personId, r.other], [full.team, full.distinctId, full.personId, full.other])
  t.same([r.set, r.setOnce, r.newProperties, r.autoText, r.unset], [null, null, null, null, null])
  t.ok(r.next(true))
  t.same([r.distinctId, r.set], ['next', null], 'the skipped fields\' bytes were stepped over exactly')
  t.notOk(r.next(true))
})

t.test('the reader takes a view of a larger buffer (as the task codec hands it) and reads only its bytes', async (t) => {
  const w = new IntentWriter()
  w.add(full)
  const bytes = w.bytes()
  const padded = new Uint8Array(bytes.length + 20)
  padded.set(bytes, 10)
  t.same(asBuffers(readIntents(padded.subarray(10, 10 + bytes.length))), [expected(full)])
})

t.test('a thread\'s writer reused by the next task (reset) holds only that task\'s intents', async (t) => {
  const w = new IntentWriter(64)
  w.add(full)
  w.add(base)
  t.equal(readIntents(w.bytes()).length, 2)
  w.reset().add({ ...base, distinctId: 'second task' })
  t.same(readIntents(w.bytes()).map((i) => i.distinctId), ['second task'], 'nothing of the first task is read back')
  t.ok(w.capacity >= 20_000, 'the memory grown for the first task is kept')
})
