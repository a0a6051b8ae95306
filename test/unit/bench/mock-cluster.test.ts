// bench/mock-cluster.ts: a backlog drain is timed from the line librdkafka's
// mock broker logs when a consumer group becomes stable (rdkafka_mock_cgrp.c).
import t from 'tap'
import { groupBecameStable } from '../../../bench/mock-cluster'

t.test('reads the group from the mock broker\'s "-> Up" line', async (t) => {
  t.equal(groupBecameStable('[thrd:127.0.0.1:40467/bootstrap]: Mock consumer group bench-mhx1-sluice-backlog with 1 member(s) changing state Syncing -> Up: all members synced'),
    'bench-mhx1-sluice-backlog')
})

t.test('ignores the group\'s other state changes and other lines', async (t) => {
  t.equal(groupBecameStable('Mock consumer group g1 with 2 member(s) changing state Up -> Joining: member joined'), undefined)
  t.equal(groupBecameStable('Mock consumer group g1 with 2 member(s) changing state Joining -> Syncing: all members joined'), undefined)
  t.equal(groupBecameStable('Mock cluster enabled: original bootstrap.servers and security.protocol ignored and replaced with 127.0.0.1:40467'), undefined)
})
