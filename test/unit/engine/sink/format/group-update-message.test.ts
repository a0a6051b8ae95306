// engine/sink/format/group-update-message.ts: what travels on the group-update
// topic, and the one place its bytes are read as unknown.
import t from 'tap'
import { decodeGroupUpdate, encodeGroupUpdate, groupUpdateKey } from '../../../../../engine/sink/format/group-update-message'

t.test('an update survives the topic: key by group, value back as the worker made it', async (t) => {
  const u: [number, number, string, string, number] = [2, 3, 'org:"5"\u2028', '{"name":"Acme ☕","n":1}', 1741064700123]
  t.equal(groupUpdateKey(u), '2:3:org:"5"\u2028')
  t.same(decodeGroupUpdate(encodeGroupUpdate(u)), { team: 2, index: 3, key: 'org:"5"\u2028', set: { name: 'Acme ☕', n: 1 }, timestampMs: 1741064700123 })
})

t.test('anything else on the topic is not an update', async (t) => {
  const bad = [null, '', 'not json', '[]', '{}', '{"team_id":1,"group_type_index":5,"group_key":"a","group_set":{},"timestamp_ms":1}',
    '{"team_id":1,"group_type_index":0,"group_key":"","group_set":{},"timestamp_ms":1}', '{"team_id":1,"group_type_index":0,"group_key":"a","group_set":[],"timestamp_ms":1}',
    '{"team_id":"1","group_type_index":0,"group_key":"a","group_set":{},"timestamp_ms":1}']
  for (const b of bad) t.equal(decodeGroupUpdate(b === null ? null : Buffer.from(b)), undefined, String(b))
})
