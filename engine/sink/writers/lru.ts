// The writers' caches: lru-cache bounded by entry count through `maxSize`
// (one unit per entry) rather than `max`. Given `max`, lru-cache allocates
// and fills two arrays of `max` slots up front: the writers' four caches
// (900,000 slots) were ~10 MB of the main thread's heap before their first
// entry, most of its old generation with persons off, and every
// mark-compact walked them. Bounded by size, the arrays grow with use.
import { LRUCache } from 'lru-cache'

export function lruOf<K extends {}, V extends {}>(entries: number): LRUCache<K, V> {
  return new LRUCache<K, V>({ maxSize: entries, sizeCalculation: () => 1 })
}
