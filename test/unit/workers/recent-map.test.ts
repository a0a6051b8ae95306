import t from 'tap'
import { RecentMap } from '../../../workers/recent-map'

t.test('keeps what was used since the last turnover, and never more than its bound', async (t) => {
  const m = new RecentMap<string, number>(4)
  m.set('a', 1)
  m.set('b', 2) // young holds 2 = half: the next new key turns it over
  m.set('c', 3)
  t.equal(m.turnovers, 1)
  t.same([m.peek('a'), m.peek('b'), m.peek('c')], [1, 2, 3], 'the old generation is still readable')
  t.equal(m.get('a'), 1, 'a read promotes a to the young generation')
  m.set('d', 4) // young was {c, a}: turns over, dropping b (not used since)
  t.equal(m.turnovers, 2)
  t.equal(m.peek('b'), undefined, 'b was not used since the last turnover: dropped')
  t.same([m.peek('a'), m.peek('c'), m.peek('d')], [1, 3, 4])
  t.ok(m.size <= 4)
  for (let i = 0; i < 100; i++) m.set(`k${i}`, i)
  t.ok(m.size <= 4, 'bounded')
  t.equal(m.get('k99'), 99, 'the newest stays')
})

t.test('set, has, delete and peek do what a Map does', async (t) => {
  const m = new RecentMap<string, number>(10)
  m.set('x', 1)
  m.set('x', 2)
  t.equal(m.get('x'), 2)
  t.ok(m.has('x'))
  t.equal(m.size, 1)
  t.ok(m.delete('x'))
  t.notOk(m.has('x'))
  t.notOk(m.delete('x'))
  t.equal(m.peek('x'), undefined)
  m.set('y', 0)
  t.equal(m.peek('y'), 0, 'falsy values are values')
  m.clear()
  t.equal(m.size, 0)
})
