// engine/source/committer.ts: acknowledged points are committed at once and
// remembered per partition for the final synchronous commit; a revoked
// partition's point is never committed again; SLUICE_STOP_AFTER_EVENTS fires once.
import t from 'tap'
import { Committer, type CommitPort } from '../../../../engine/source/committer'
import type { CommitPoint } from '../../../../engine/source/offsets'

function recordingPort() {
  const calls: { kind: 'async' | 'sync'; points: CommitPoint[] }[] = []
  const port: CommitPort = {
    commit: (points) => { calls.push({ kind: 'async', points: [...points] }); return points.length > 0 },
    commitSync: (points) => { calls.push({ kind: 'sync', points: [...points] }) },
  }
  return { port, calls }
}

t.test('the final commit carries the last point of every partition still owned', async (t) => {
  const { port, calls } = recordingPort()
  const c = new Committer(port)
  c.acknowledged([{ partition: 0, offset: 10 }, { partition: 1, offset: 5 }], 15)
  c.acknowledged([{ partition: 0, offset: 20 }], 10)
  c.acknowledged([{ partition: 2, offset: 7 }], 7)
  c.forget([1])
  c.final()
  t.same(calls.map((x) => x.kind), ['async', 'async', 'async', 'sync'], 'every acknowledgement is committed at once, the last one synchronously')
  t.same(calls[3].points, [{ partition: 0, offset: 20 }, { partition: 2, offset: 7 }], 'newest point per partition; the revoked partition 1 is left to its new owner')
  t.equal(c.committed, 32)
})

t.test('stop-after-events fires once, when the broker accepted the commit that reached the limit', async (t) => {
  const { port } = recordingPort()
  let fired = 0
  const c = new Committer(port, () => { fired++ }, 100)
  c.acknowledged([{ partition: 0, offset: 60 }], 60)
  c.commitAccepted()
  t.equal(fired, 0)
  c.acknowledged([{ partition: 0, offset: 100 }], 40)
  t.equal(fired, 0, 'at 100, not before the broker answers')
  c.commitAccepted()
  t.equal(fired, 1, 'once that commit is accepted')
  c.acknowledged([{ partition: 0, offset: 150 }], 50)
  c.commitAccepted()
  t.equal(fired, 1, 'not again')
  const unlimited = new Committer(port, () => { fired++ })
  unlimited.acknowledged([{ partition: 0, offset: 1e6 }], 1e6)
  unlimited.commitAccepted()
  t.equal(fired, 1, 'never without a limit')
})

t.test('stop-after-events waits through refused commits: only an accepted one at or after the limit stops the engine', async (t) => {
  const { port, calls } = recordingPort()
  let fired = 0
  const c = new Committer(port, () => { fired++ }, 100)
  c.acknowledged([{ partition: 0, offset: 60 }], 60)
  c.acknowledged([{ partition: 0, offset: 100 }], 40)
  c.commitAccepted() // the answer to the first commit, sent before the limit
  t.equal(fired, 0, 'an earlier commit accepted says nothing about the one at the limit')
  c.commitFailed(5) // the commit at the limit, refused during a rebalance
  t.equal(fired, 0, 'refused: the offsets are not on the broker')
  await new Promise((r) => setTimeout(r, 30))
  t.same(calls.at(-1), { kind: 'async', points: [{ partition: 0, offset: 100 }] }, 'the last points are sent again')
  c.commitAccepted()
  t.equal(fired, 1, 'accepted the second time: now the engine may stop')
})

t.test('a commit with nothing to send expects no answer', async (t) => {
  const { port } = recordingPort()
  let fired = 0
  const c = new Committer(port, () => { fired++ }, 10)
  c.acknowledged([{ partition: 0, offset: 5 }], 5)
  c.acknowledged([], 5) // the limit, with no point that moved: the last commit sent is the one to wait for
  c.commitAccepted()
  t.equal(fired, 1)
})

t.test('a refused commit is repeated with the last points of the partitions still owned, once per wait', async (t) => {
  const { port, calls } = recordingPort()
  const c = new Committer(port)
  c.acknowledged([{ partition: 0, offset: 10 }, { partition: 1, offset: 5 }], 15)
  c.acknowledged([{ partition: 0, offset: 20 }], 10)
  c.forget([1])
  c.commitFailed(5)
  c.commitFailed(5)
  await new Promise((r) => setTimeout(r, 30))
  t.same(calls.slice(2), [{ kind: 'async', points: [{ partition: 0, offset: 20 }] }], 'one re-commit, newest point, revoked partition left out')
  t.equal(c.committed, 25, 'a re-commit counts no messages')
})

t.test('after the final commit a refused commit is not repeated', async (t) => {
  const { port, calls } = recordingPort()
  const c = new Committer(port)
  c.acknowledged([{ partition: 0, offset: 10 }], 10)
  c.commitFailed(5)
  c.final()
  c.commitFailed(5)
  await new Promise((r) => setTimeout(r, 30))
  t.same(calls.map((x) => x.kind), ['async', 'sync'])
})
