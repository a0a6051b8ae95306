// Wrong bearer tokens per address (issue 17): after `maxFailures` within a
// minute, the address is refused (429) for `blockMs`, whatever it sends, so
// that guessing a key costs a minute per twenty tries. Per instance, in
// memory; bounded, so that a spray of addresses cannot grow it without end.
export const WINDOW_MS = 60_000
export const MAX_ADDRESSES = 10_000

interface Entry { windowStart: number; failures: number; blockedUntil: number }

export class AuthLimiter {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly maxFailures: number,
    private readonly blockMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** ms this address is still refused for; 0 when it may try. */
  blockedFor(address: string): number {
    const e = this.entries.get(address)
    if (!e) return 0
    const left = e.blockedUntil - this.now()
    if (left > 0) return left
    if (e.blockedUntil > 0) this.entries.delete(address)
    return 0
  }

  /** Records a wrong token; true when this one used up the address's allowance (it is refused from now on). */
  failed(address: string): boolean {
    const now = this.now()
    let e = this.entries.get(address)
    if (!e || now - e.windowStart >= WINDOW_MS) {
      if (e) this.entries.delete(address)
      e = { windowStart: now, failures: 0, blockedUntil: 0 }
      this.entries.set(address, e)
      if (this.entries.size > MAX_ADDRESSES) this.prune(now)
    }
    e.failures++
    if (e.failures >= this.maxFailures) {
      e.blockedUntil = now + this.blockMs
      return true
    }
    return false
  }

  get size(): number {
    return this.entries.size
  }

  /** Forgets finished windows, then the oldest entries (insertion order) down to the bound. */
  private prune(now: number): void {
    for (const [a, e] of this.entries) if (now - e.windowStart >= WINDOW_MS && e.blockedUntil <= now) this.entries.delete(a)
    for (const a of this.entries.keys()) {
      if (this.entries.size <= MAX_ADDRESSES) break
      this.entries.delete(a)
    }
  }
}
