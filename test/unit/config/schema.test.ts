// config/schema.ts: defaults, one ConfigError per invalid value naming its
// variable, a frozen result, and the generated docs table kept in step.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ConfigError, VARIABLES, loadConfig, renderConfigDocs } from '../../../config/schema'

const DOCS_PATH = path.join(__dirname, '../../../../config/CONFIGURATION.md')

function failure(env: NodeJS.ProcessEnv): { isConfigError: boolean; code: string; message: string } | undefined {
  try {
    loadConfig(env)
  } catch (err) {
    return { isConfigError: err instanceof ConfigError, code: (err as ConfigError).code, message: (err as Error).message }
  }
  return undefined
}

t.test('an empty environment yields the documented defaults', async (t) => {
  t.same(loadConfig({}), {
    kafkaBrokers: undefined,
    kafkaTopic: 'events_plugin_ingestion',
    kafkaGroup: 'sluice-ingestion',
    controlTopic: 'sluice_control',
    controlReplicationFactor: undefined,
    controlMinInsyncReplicas: undefined,
    controlSnapshotCommands: 1000,
    controlSnapshotBytes: 1048576,
    controlRecover: undefined,
    dlqTopic: 'events_dead_letter_queue',
    groupsTopic: 'sluice_group_updates',
    clickhouseUrl: undefined,
    clickhouseUser: undefined,
    clickhousePassword: undefined,
    clickhouseDatabase: 'sluice',
    dataDir: './data',
    capturePort: 8000,
    captureHost: '0.0.0.0',
    trustProxy: false,
    adminPort: 8001,
    adminAuthMaxFailures: 20,
    adminAuthBlockMs: 60_000,
    adminHost: '127.0.0.1',
    adminToken: undefined,
    // cores − 1, at least 1, at most 8
    workers: Math.max(2, Math.min(8, os.availableParallelism() - 1)),
    consumeBatch: 2000,
    insertMaxRows: 50000,
    insertMaxBytes: 33554432,
    insertIntervalMs: 500,
    insertIdleMs: 250,
    insertCatchUpMs: 3000,
    maxMessageBytes: 1048576,
    maxBodyBytes: 1048576,
    maxInflightBytes: 268435456,
    shutdownTimeoutMs: 30000,
    statusWindowSeconds: 60,
    warningIntervalMs: 3600000,
    logLevel: 'info',
    stopAfterEvents: undefined,
    persons: true,
    personCacheSize: 200000,
    personOverridesPollMs: 1000,
  })
})

t.test('set values are read and typed; an empty string counts as unset', async (t) => {
  const config = loadConfig({
    SLUICE_KAFKA_BROKERS: 'k1:9092,k2:9092',
    SLUICE_KAFKA_TOPIC: '',
    SLUICE_WORKERS: '3',
    SLUICE_CLICKHOUSE_URL: 'https://ch.example:8443',
    SLUICE_ADMIN_HOST: '0.0.0.0',
    SLUICE_ADMIN_TOKEN: '0123456789abcdef',
    SLUICE_STOP_AFTER_EVENTS: '1000',
    SLUICE_WARNING_INTERVAL_SECONDS: '60',
  })
  t.same(
    [config.kafkaBrokers, config.kafkaTopic, config.workers, config.clickhouseUrl, config.adminHost, config.adminToken, config.stopAfterEvents, config.warningIntervalMs],
    ['k1:9092,k2:9092', 'events_plugin_ingestion', 3, 'https://ch.example:8443', '0.0.0.0', '0123456789abcdef', 1000, 60000],
  )
})

const INVALID: { env: NodeJS.ProcessEnv; message: string }[] = [
  { env: { SLUICE_WORKERS: 'abc' }, message: 'SLUICE_WORKERS must be a non-negative integer, got "abc"' },
  { env: { SLUICE_WORKERS: '0' }, message: 'SLUICE_WORKERS must be at least 1, got 0' },
  { env: { SLUICE_WORKERS: '-2' }, message: 'SLUICE_WORKERS must be a non-negative integer, got "-2"' },
  { env: { SLUICE_CAPTURE_PORT: '99999999999999999999' }, message: 'SLUICE_CAPTURE_PORT is too large' },
  { env: { SLUICE_CLICKHOUSE_URL: 'ftp://x' }, message: 'SLUICE_CLICKHOUSE_URL must be an http:// or https:// URL' },
  { env: { SLUICE_CLICKHOUSE_URL: 'not a url' }, message: 'SLUICE_CLICKHOUSE_URL must be a URL such as http://localhost:8123' },
  { env: { SLUICE_CLICKHOUSE_DATABASE: 'a;drop' }, message: 'SLUICE_CLICKHOUSE_DATABASE must be a plain identifier (letters, digits, underscore)' },
  { env: { SLUICE_CONTROL_RECOVER: 'yes' }, message: 'SLUICE_CONTROL_RECOVER must be clickhouse or unset, got "yes"' },
  { env: { SLUICE_LOG_LEVEL: 'loud' }, message: 'SLUICE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent' },
  { env: { SLUICE_ADMIN_TOKEN: '0123456789abcde' }, message: 'SLUICE_ADMIN_TOKEN must be at least 16 characters' },
  {
    env: { SLUICE_ADMIN_HOST: '0.0.0.0' },
    message: 'SLUICE_ADMIN_TOKEN is required when the admin port listens beyond loopback (SLUICE_ADMIN_HOST=0.0.0.0)',
  },
  { env: { SLUICE_DLQ_TOPIC: 'dead letters' }, message: 'SLUICE_DLQ_TOPIC must be a valid Kafka topic name' },
  { env: { SLUICE_GROUPS_TOPIC: 'events_plugin_ingestion' }, message: 'SLUICE_GROUPS_TOPIC must differ from SLUICE_KAFKA_TOPIC' },
  { env: { SLUICE_WARNING_INTERVAL_SECONDS: '-1' }, message: 'SLUICE_WARNING_INTERVAL_SECONDS must be a non-negative integer, got "-1"' },
  { env: { SLUICE_TRUST_PROXY: 'maybe' }, message: 'SLUICE_TRUST_PROXY must be true or false, got "maybe"' },
]

for (const { env, message } of INVALID) {
  t.test(`rejects ${JSON.stringify(env)} with a ConfigError naming the variable`, async (t) => {
    t.same(failure(env), { isConfigError: true, code: 'SLUICE_ERR_CONFIG', message })
  })
}

t.test('SLUICE_TRUST_PROXY reads true/false, 1/0 and yes/no', async (t) => {
  t.same(['true', 'TRUE', '1', 'yes', 'false', '0', 'no'].map((v) => loadConfig({ SLUICE_TRUST_PROXY: v }).trustProxy), [true, true, true, true, false, false, false])
})

t.test('loopback admin hosts need no admin token', async (t) => {
  t.same(['localhost', '127.0.0.2', '::1'].map((host) => failure({ SLUICE_ADMIN_HOST: host })), [undefined, undefined, undefined])
})

t.test('the returned config is frozen', async (t) => {
  const config = loadConfig({})
  t.equal(Object.isFrozen(config), true)
  t.throws(() => { (config as { workers: number }).workers = 99 }, TypeError)
  t.equal(config.workers, loadConfig({}).workers)
})

t.test('config/CONFIGURATION.md is the table generated from the schema (run npm run docs:config)', async (t) => {
  t.equal(fs.readFileSync(DOCS_PATH, 'utf8'), renderConfigDocs())
})

t.test('every variable of the schema is documented in config/CONFIGURATION.md', async (t) => {
  const docs = fs.readFileSync(DOCS_PATH, 'utf8')
  t.same(VARIABLES.map((v) => v.name).filter((name) => !docs.includes(`| \`${name}\` |`)), [])
})
