// engine/source/offsets.ts: commit points move only over a done prefix, per
// partition, and never for segments of a revoked partition.
import t from 'tap'
import { OffsetTracker } from '../../../../engine/source/offsets'

t.test('the commit point moves only over a done prefix when segments finish out of order', async (t) => {
  const offsets = new OffsetTracker()
  const a = offsets.track(3, 100, 149)
  const b = offsets.track(3, 150, 199)
  const c = offsets.track(3, 200, 260)
  t.same(offsets.complete([c]), [])
  t.same(offsets.complete([a]), [{ partition: 3, offset: 150 }])
  t.equal(offsets.pendingSegments(), 2)
  t.same(offsets.complete([b]), [{ partition: 3, offset: 261 }])
  t.equal(offsets.pendingSegments(), 0)
})

t.test('completing a segment twice does not move the commit point again', async (t) => {
  const offsets = new OffsetTracker()
  const a = offsets.track(0, 0, 9)
  t.same(offsets.complete([a]), [{ partition: 0, offset: 10 }])
  t.same(offsets.complete([a]), [])
})

t.test('a pending segment of one partition does not hold back another partition', async (t) => {
  const offsets = new OffsetTracker()
  const p0 = offsets.track(0, 0, 9)
  const p1 = offsets.track(1, 50, 59)
  const p2 = offsets.track(2, 7, 7)
  t.same(offsets.complete([p1]), [{ partition: 1, offset: 60 }])
  t.same(offsets.complete([p2, p0]), [{ partition: 2, offset: 8 }, { partition: 0, offset: 10 }])
})

t.test('segments of a revoked partition never produce commit points', async (t) => {
  const offsets = new OffsetTracker()
  const revoked = offsets.track(4, 0, 99)
  const kept = offsets.track(5, 0, 9)
  offsets.revoke([4])
  t.equal(offsets.pendingSegments(), 1)
  t.same(offsets.complete([revoked, kept]), [{ partition: 5, offset: 10 }])
})

t.test('a partition assigned again after a revocation commits its new segments only', async (t) => {
  const offsets = new OffsetTracker()
  const old = offsets.track(4, 0, 99)
  offsets.revoke([4])
  // the new owner re-reads from the last commit: the same offsets again
  const fresh = offsets.track(4, 0, 99)
  t.same(offsets.complete([old]), [])
  t.equal(fresh.done, false)
  t.equal(offsets.pendingSegments(), 1)
  t.same(offsets.complete([fresh]), [{ partition: 4, offset: 100 }])
})
