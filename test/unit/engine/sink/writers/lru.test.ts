// engine/sink/writers/lru.ts: the writers' caches keep the most recently used
// entries up to their bound, and hold no memory for entries they do not have.
import t from 'tap'
import { getHeapStatistics } from 'node:v8'
import { LRUCache } from 'lru-cache'
import { lruOf } from '../../../../../engine/sink/writers/lru'

t.test('bounded by entry count: the least recently used goes first', async (t) => {
  const c = lruOf<string, number>(3)
  c.set('a', 1)
  c.set('b', 2)
  c.set('c', 3)
  t.equal(c.get('a'), 1, 'a read: now the most recent')
  c.set('d', 4)
  t.same([c.size, c.has('a'), c.has('b'), c.has('c'), c.has('d')], [3, true, false, true, true], 'b, the least recently used, was dropped')
  c.set('d', 5)
  t.equal(c.size, 3, 'replacing an entry takes no more room')
})

t.test('a large bound costs nothing until used (lru-cache given `max` fills two arrays of that many slots up front)', async (t) => {
  const heap = () => getHeapStatistics().used_heap_size
  const bound = 2_000_000
  const before = heap()
  const ours = lruOf<string, number>(bound)
  const ourGrowth = heap() - before
  const before2 = heap()
  const preallocated = new LRUCache<string, number>({ max: bound })
  const theirGrowth = heap() - before2
  t.ok(theirGrowth > 4 * bound, `lru-cache with max: ${(theirGrowth / 1e6).toFixed(1)} MB (the measure works)`)
  t.ok(ourGrowth < 1e6, `ours: ${(ourGrowth / 1e6).toFixed(2)} MB`)
  ours.set('x', 1)
  preallocated.set('x', 1)
  t.equal(ours.get('x'), 1)
})
