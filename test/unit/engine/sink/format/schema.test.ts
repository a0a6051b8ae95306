// engine/sink/format/schema.ts, the single server's migration between
// releases: columns an existing table lacks are added, nothing else changes.
import t from 'tap'
import { schemaStatements, singleServerMigrations } from '../../../../../engine/sink/format/schema'

const statements = schemaStatements('db', 'DateTime')

t.test('a groups table from before issue 19 gets its _version column; a current schema needs nothing', async (t) => {
  const old = new Map([['groups', new Set(['team_id', 'group_type_index', 'group_key', 'group_properties', 'created_at', '_timestamp'])]])
  t.same(singleServerMigrations(statements, old, 'db'), ['ALTER TABLE db.groups ADD COLUMN _version UInt64'])
  const current = new Map([['groups', new Set([...old.get('groups')!, '_version'])]])
  t.same(singleServerMigrations(statements, current, 'db'), [])
})

t.test('tables that do not exist yet are created, not altered', async (t) => {
  t.same(singleServerMigrations(statements, new Map(), 'db'), [])
})
