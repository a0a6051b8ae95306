// bench/native-pipeline.ts: the native references insert the capture
// envelope as it is, so their table must have exactly its fields; the Kafka
// engine's settings are quoted string literals.
import t from 'tap'
import { messageGenerator } from '../../../bench/generate'
import { ENVELOPE_COLUMNS, kafkaEngineDropSql, kafkaEngineSql, nativeTableSql } from '../../../bench/native-pipeline'

t.test('the native table has one String column per field of the generated envelope', async (t) => {
  const envelope = JSON.parse(messageGenerator({ tokens: ['phc_x'] })())
  t.same([...ENVELOPE_COLUMNS].sort(), Object.keys(envelope).sort())
  for (const value of Object.values(envelope)) t.equal(typeof value, 'string')
  t.equal(nativeTableSql('db.t'),
    'CREATE TABLE IF NOT EXISTS db.t (uuid String, distinct_id String, ip String, site_url String, now String, sent_at String, token String, data String) ENGINE = MergeTree ORDER BY tuple()')
})

t.test('the Kafka engine reads JSONEachRow into the table through a view, settings quoted', async (t) => {
  const tables = { queue: 'db.q', view: 'db.v', target: 'db.t' }
  const sql = kafkaEngineSql(tables, { brokers: '127.0.0.1:9092', topic: "it's", group: 'g', consumers: 2 })
  t.equal(sql.length, 3)
  t.equal(sql[0], nativeTableSql('db.t'))
  t.match(sql[1], /ENGINE = Kafka SETTINGS kafka_broker_list = '127\.0\.0\.1:9092', kafka_topic_list = 'it\\'s', kafka_group_name = 'g', kafka_format = 'JSONEachRow', kafka_row_delimiter = '\\n', kafka_num_consumers = 2$/)
  t.equal(sql[2], 'CREATE MATERIALIZED VIEW IF NOT EXISTS db.v TO db.t AS SELECT * FROM db.q')
  t.same(kafkaEngineDropSql(tables), ['DROP TABLE IF EXISTS db.v', 'DROP TABLE IF EXISTS db.q'])
  t.throws(() => kafkaEngineSql(tables, { brokers: 'b', topic: 't', group: 'g', consumers: 1.5 }))
})
