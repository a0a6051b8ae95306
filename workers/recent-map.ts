// A bounded map that keeps what was used recently, in two generations of
// plain Maps: writes and promoted reads go to the young one; when it holds
// half the bound, it becomes the old one and the previous old one is dropped
// whole. So it holds between max/2 and max entries, every entry used since
// the last turnover stays, and a read costs one Map lookup.
//
// Why not lru-cache (which the engine uses elsewhere): on the person path
// (several lookups per event, 10^5 keys) its exact recency bookkeeping cost
// 2.5× a Map lookup per read and 6× per evicting write (bench: persons on
// vs off), and exact recency buys nothing there: a user active within the
// last max/2 distinct users is kept either way.
export class RecentMap<K, V> {
  private young = new Map<K, V>()
  private old = new Map<K, V>()
  private readonly half: number
  /** how many times the old generation was dropped: a caller that looked entries up before can tell whether they may be gone */
  turnovers = 0

  constructor(readonly max: number) {
    this.half = Math.max(1, Math.floor(max / 2))
  }

  get size(): number {
    return this.young.size + this.old.size
  }

  /** The value, marked as recently used. */
  get(key: K): V | undefined {
    const v = this.young.get(key)
    if (v !== undefined) return v
    const o = this.old.get(key)
    if (o !== undefined) {
      this.old.delete(key)
      this.add(key, o)
    }
    return o
  }

  /** The value, without marking it used. */
  peek(key: K): V | undefined {
    const v = this.young.get(key)
    return v !== undefined ? v : this.old.get(key)
  }

  has(key: K): boolean {
    return this.young.has(key) || this.old.has(key)
  }

  set(key: K, value: V): void {
    if (this.young.has(key)) {
      this.young.set(key, value)
      return
    }
    this.old.delete(key)
    this.add(key, value)
  }

  delete(key: K): boolean {
    return this.young.delete(key) || this.old.delete(key)
  }

  clear(): void {
    this.young = new Map()
    this.old = new Map()
  }

  private add(key: K, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young
      this.young = new Map()
      this.turnovers++
    }
    this.young.set(key, value)
  }
}
