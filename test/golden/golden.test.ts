// The golden test (issue 15): a fixed corpus of PostHog-SDK-shaped events
// (test/golden/corpus.ts, seeded) through the worker, with every stored row
// — events, group updates and the groups rows they make, taxonomy,
// ingestion warnings, heatmaps, drops and dead letters — compared with the
// committed test/golden/expected.json. A difference is a change of what
// Sluice stores for PostHog users: review it against PostHog's code (README,
// "Golden test") before regenerating with `UPDATE_GOLDEN=1`.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { foldAll } from '../../engine/control/fold'
import { buildSnapshot } from '../../engine/control/snapshot'
import { publishOrder } from '../../engine/dispatch/group-updates'
import { decodeGroupUpdate, encodeGroupUpdate } from '../../engine/sink/format/group-update-message'
import { applyGroupUpdates } from '../../engine/sink/writers/groups'
import { HeatmapsWriter } from '../../engine/sink/writers/heatmaps'
import type { Schema } from '../../engine/sink/format/schema'
import { DefinitionsMemory } from '../../workers/definitions-memory'
import { processBatch } from '../../workers/index'
import { taskOf } from '../harness/tasks'
import { CONTROL, KAFKA_TS, NOW_MS, goldenCorpus } from './corpus'

// dist/test/unit → the source tree's test/golden
const EXPECTED = path.join(__dirname, '..', '..', '..', 'test', 'golden', 'expected.json')

async function storedRows(): Promise<unknown> {
  const { state } = foldAll(CONTROL)
  const snapshot = buildSnapshot(state, 1515)
  const task = taskOf(goldenCorpus(), { snapshot, nowMs: NOW_MS, kafkaTimestamp: KAFKA_TS })
  const { header, rows } = processBatch(task, { dateTime: 'DateTime64', format: 'JSONEachRow' }, undefined, new DefinitionsMemory())
  const events = Buffer.from(rows.bytes()).toString('utf8').split('\n').filter(Boolean).map((line) => {
    const r = JSON.parse(line) as Record<string, unknown>
    return { ...r, properties: JSON.parse(r.properties as string) }
  })
  const schema = { dateTime: 'DateTime64', tables: { groups: 'groups', heatmaps: 'heatmaps' } } as unknown as Schema
  const parse = (chunk: Uint8Array | undefined) => (chunk ? Buffer.from(chunk).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown) : [])
  // through the update topic's codec, in the order they are produced, as the owner applies them (offsets from 0)
  const sourced = publishOrder(header.groupUpdates).map((u, offset) => ({ ...decodeGroupUpdate(encodeGroupUpdate(u))!, partition: 0, offset, producedMs: NOW_MS }))
  const groups = sourced.length > 0 ? applyGroupUpdates(sourced, () => undefined, 'DateTime64') : undefined
  const [heatmaps] = new HeatmapsWriter(schema).rows(header.heatmaps ?? [], NOW_MS)
  return {
    messages: header.messages,
    drops: header.drops,
    deadLetters: header.deadLetters,
    pendingClaims: header.pendingClaims,
    events,
    groups: parse(groups?.chunk),
    warnings: header.warnings.map(([team, type, details, key]) => ({ team, type, details: JSON.parse(details), key })),
    definitions: header.observations,
    heatmaps: parse(heatmaps?.chunk),
  }
}

t.test('the golden corpus is stored exactly as test/golden/expected.json says', async (t) => {
  const actual = JSON.parse(JSON.stringify(await storedRows())) as Record<string, unknown>
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.writeFileSync(EXPECTED, JSON.stringify(actual, null, 1) + '\n')
    t.pass('expected.json regenerated: review its diff')
    return
  }
  const expected = JSON.parse(fs.readFileSync(EXPECTED, 'utf8')) as Record<string, unknown>
  t.ok((actual.messages as number) >= 200, 'at least 200 events')
  for (const k of Object.keys(expected)) t.same(actual[k], expected[k], k)
  t.same(Object.keys(actual).sort(), Object.keys(expected).sort(), 'the same outputs')
})
