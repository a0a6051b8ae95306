// engine/control/fold.ts, issue 17: SDK keys per environment, rotation with a
// grace period ended by expire_token at one log position, admin keys, and the
// audit trail; the snapshot image and the workers' token map carry them.
import t from 'tap'
import { unpack } from 'msgpackr'
import type { Command } from '../../../../engine/control/commands'
import { emptyState, foldAll, foldCommand, type ControlState } from '../../../../engine/control/fold'
import { dueExpiries, expiryRequestId } from '../../../../engine/control/grace'
import { buildSnapshot } from '../../../../engine/control/snapshot'
import { canonicalJson, decodeImage, encodeImage, stateFromImage, stateImage } from '../../../../engine/control/state-image'
import type { ControlSnapshot } from '../../../../workers/protocol'

const AT = '2026-12-01T10:00:00.000Z'
const LATER = '2026-12-01T10:00:05.000Z'
let n = 0
const rid = () => `r${++n}`
const project = (name: string, api_token: string, key_id = 0): Command => ({ type: 'create_project', request_id: rid(), at: AT, key_id, name, api_token })
const environment = (project_id: number, name: string, api_token: string): Command => ({ type: 'create_environment', request_id: rid(), at: AT, key_id: 0, project_id, name, api_token })
const sdkKey = (environment_id: number, name: string, api_token: string): Command => ({ type: 'create_sdk_key', request_id: rid(), at: AT, key_id: 0, environment_id, name, api_token })
const revokeKey = (environment_id: number, sdk_key_id: number): Command => ({ type: 'revoke_sdk_key', request_id: rid(), at: AT, key_id: 0, environment_id, sdk_key_id })
const rotate = (environment_id: number, api_token: string, revoke_at?: string): Command => ({ type: 'rotate_token', request_id: rid(), at: AT, key_id: 0, environment_id, api_token, revoke_at })
const expire = (environment_id: number, key_id: number, revoke_at: string): Command =>
  ({ type: 'expire_token', request_id: expiryRequestId(key_id, revoke_at), at: LATER, environment_id, sdk_key_id: key_id, revoke_at })
const HEX = 'ab'.repeat(32)
const adminKey = (name: string, lookup: string, scopes: unknown, key_id = 0): Command =>
  ({ type: 'create_admin_key', request_id: rid(), at: AT, key_id, name, scopes, lookup, salt: HEX, hash: HEX } as Command)

const tokens = (s: ControlState) => [...s.tokens.entries()].sort()
/** token → [environment, key] as the workers get them */
function workerTokens(s: ControlState): [string, number, number][] {
  const snap = unpack(new Uint8Array(buildSnapshot(s, s.offset).buffer).slice()) as ControlSnapshot
  return snap.environments.flatMap((e) => e.tokens.map(([tok, key]) => [tok, e.id, key] as [string, number, number])).sort()
}

t.test('an environment starts with one primary key; another key ingests beside it and is revoked alone', async (t) => {
  const { state, outcomes } = foldAll([project('Shop', 'token_shop_1'), sdkKey(1, 'iOS app', 'token_shop_ios')])
  t.same(outcomes.map((o) => o.ok && o.key_id), [undefined, 2], 'the second key gets id 2 (key ids have their own counter)')
  t.same(workerTokens(state), [['token_shop_1', 1, 1], ['token_shop_ios', 1, 2]])
  const o = foldCommand(state, revokeKey(1, 2), 2)
  t.same(o, { ok: true, project_id: 1, environment_id: 1, key_id: 2, touched: { projects: [], environments: [1] } })
  t.same(workerTokens(state), [['token_shop_1', 1, 1]], 'only the primary token resolves')
  t.ok(state.revoked.has('token_shop_ios'), 'the revoked token is never handed out again')
  t.same(foldCommand(state, sdkKey(1, 'again', 'token_shop_ios'), 3), { ok: false, error: 'conflict', message: 'api_token was revoked and cannot be used again' })
  t.equal(state.nextId, 2, 'project and environment ids do not move')
})

t.test('the primary key cannot be revoked; a key of another environment is key_not_found', async (t) => {
  const { state } = foldAll([project('Shop', 'token_shop_1'), environment(1, 'Staging', 'token_shop_stg')])
  t.same(foldCommand(state, revokeKey(1, 1), 2), { ok: false, error: 'conflict', message: 'key 1 is the primary key of environment 1 (its api_token): rotate it instead' })
  t.same(foldCommand(state, revokeKey(1, 2), 3), { ok: false, error: 'key_not_found', message: 'environment 1 has no key 2', id: 2 })
  t.same(tokens(state), [['token_shop_1', 1], ['token_shop_stg', 2]])
})

t.test('rotation with a grace period keeps the old token until expire_token is folded, then revokes it', async (t) => {
  const { state } = foldAll([project('Shop', 'token_shop_1'), rotate(1, 'token_shop_2', LATER)])
  t.equal(state.environments.get(1)?.api_token, 'token_shop_2', 'the new token is primary at once')
  t.same(workerTokens(state), [['token_shop_1', 1, 1], ['token_shop_2', 1, 1]], 'both tokens resolve, to the same key id')
  t.same(dueExpiries(state, Date.parse(AT)), { due: [], next: Date.parse(LATER) })
  t.same(dueExpiries(state, Date.parse(LATER)).due, [{ environment_id: 1, key_id: 1, revoke_at: LATER }])
  foldCommand(state, expire(1, 1, LATER), 2)
  t.same(workerTokens(state), [['token_shop_2', 1, 1]])
  t.ok(state.revoked.has('token_shop_1'))
  const before = canonicalJson(stateImage(state))
  // the other instance appended the same expiry: one request_id, answered, not applied
  foldCommand(state, expire(1, 1, LATER), 3)
  const after = stateImage(state)
  after.offset = 2
  t.equal(canonicalJson(after), before, 'a duplicate expiry changes nothing (not even the audit)')
})

t.test('rotation without grace (or with a deadline not after the command) revokes the old token at once', async (t) => {
  for (const revokeAt of [undefined, AT, '2020-01-01T00:00:00.000Z', 'not a time']) {
    const { state } = foldAll([project('Shop', 'token_shop_1'), rotate(1, 'token_shop_2', revokeAt)])
    t.same(workerTokens(state), [['token_shop_2', 1, 1]], `revoke_at ${String(revokeAt)}`)
  }
})

t.test('rotating again during a grace period revokes the earlier old token; a stale expiry changes nothing', async (t) => {
  const LATEST = '2026-12-01T10:00:09.000Z'
  const { state } = foldAll([project('Shop', 'token_shop_1'), rotate(1, 'token_shop_2', LATER), rotate(1, 'token_shop_3', LATEST), expire(1, 1, LATER)])
  t.same(workerTokens(state), [['token_shop_2', 1, 1], ['token_shop_3', 1, 1]])
  foldCommand(state, expire(1, 1, LATEST), 4)
  t.same(workerTokens(state), [['token_shop_3', 1, 1]])
})

t.test('deleting an environment revokes every key of it, grace tokens too', async (t) => {
  const { state } = foldAll([
    project('Shop', 'token_shop_1'), environment(1, 'Staging', 'token_stg_1'), sdkKey(2, 'web', 'token_stg_web'), rotate(2, 'token_stg_2', LATER),
    { type: 'delete_environment', request_id: rid(), at: AT, environment_id: 2 },
  ])
  t.same(workerTokens(state), [['token_shop_1', 1, 1]])
  t.same([...state.revoked].sort(), ['token_stg_1', 'token_stg_2', 'token_stg_web'])
  t.same(dueExpiries(state, Date.parse(LATER)).due, [], 'nothing left to expire')
})

t.test('admin keys: scopes are checked, a lookup prefix is unique, a revoked key stays found but revoked', async (t) => {
  const state = emptyState()
  t.same(foldCommand(state, adminKey('reader', 'aaaaaaaaaaaa', [{ access: 'read', environments: [3, 3, 1] }]), 0), { ok: true, project_id: 0, key_id: 1, touched: { projects: [], environments: [] } })
  t.same(state.adminKeys.get(1)?.scopes, [{ access: 'read', environments: [1, 3] }], 'ids de-duplicated and sorted')
  t.same(foldCommand(state, adminKey('dup', 'aaaaaaaaaaaa', [{ access: 'read' }]), 1), { ok: false, error: 'conflict', message: 'an admin key with this lookup prefix exists' })
  t.same(foldCommand(state, adminKey('bad', 'bbbbbbbbbbbb', [{ access: 'admin' }]), 2), { ok: false, error: 'invalid', message: 'scopes [0].access must be "read" or "write"' })
  t.same(foldCommand(state, adminKey('bad', 'bbbbbbbbbbbb', [{ access: 'read', projects: [1], environments: [2] }]), 3), { ok: false, error: 'invalid', message: 'scopes [0] names projects or environments, not both' })
  foldCommand(state, { type: 'revoke_admin_key', request_id: rid(), at: AT, key_id: 0, admin_key_id: 1 }, 4)
  t.equal(state.adminKeys.get(1)?.revoked, true)
  t.same(foldCommand(state, { type: 'revoke_admin_key', request_id: rid(), at: AT, admin_key_id: 1 }, 5), { ok: false, error: 'key_not_found', message: 'admin key 1 does not exist', id: 1 })
})

t.test('the audit names each change, the key that made it and its outcome, and never a token or secret', async (t) => {
  const { state } = foldAll([
    adminKey('ops', 'cccccccccccc', [{ access: 'write' }]),
    project('Shop', 'token_secret_shop', 1),
    sdkKey(1, 'ios', 'token_secret_ios'),
    project('Dup', 'token_secret_shop', 1),
    { type: 'claim_group_type', request_id: rid(), at: AT, project_id: 1, group_type: 'company' },
    rotate(1, 'token_secret_new', LATER),
    expire(1, 1, LATER),
  ])
  t.same(state.audit.map((a) => [a.position, a.key_id, a.key_name, a.command, a.target, a.outcome]), [
    [0, 0, 'SLUICE_ADMIN_TOKEN', 'create_admin_key', { admin_key_id: 1 }, 'ok'],
    [1, 1, 'ops', 'create_project', { project_id: 1, environment_id: 1 }, 'ok'],
    [2, 0, 'SLUICE_ADMIN_TOKEN', 'create_sdk_key', { project_id: 1, environment_id: 1, sdk_key_id: 2 }, 'ok'],
    [3, 1, 'ops', 'create_project', {}, 'conflict'],
    [5, 0, 'SLUICE_ADMIN_TOKEN', 'rotate_token', { project_id: 1, environment_id: 1, sdk_key_id: 1 }, 'ok'],
    [6, null, 'engine', 'expire_token', { project_id: 1, environment_id: 1, sdk_key_id: 1 }, 'ok'],
  ], 'group type claims are ingestion, not changes anyone made')
  const text = JSON.stringify(state.audit)
  t.notMatch(text, /token_secret|abab/, 'no token, salt or hash')
})

t.test('keys, admin keys and the audit travel in the snapshot image; a format-1 image gets a primary key per environment', async (t) => {
  const { state } = foldAll([project('Shop', 'token_shop_1'), environment(1, 'Staging', 'token_stg_1'), sdkKey(1, 'ios', 'token_ios'), rotate(2, 'token_stg_2', LATER), adminKey('ops', 'dddddddddddd', [{ access: 'read', projects: [1] }])])
  const { text, hash } = encodeImage(stateImage(state))
  const image = decodeImage(text, hash)
  if ('problem' in image) throw new Error(image.problem)
  const loaded = stateFromImage(image)
  t.equal(canonicalJson(stateImage(loaded)), text, 'the loaded state writes the same image')
  t.same(workerTokens(loaded), workerTokens(state))
  t.equal(loaded.adminLookups.get('dddddddddddd'), 1)

  const old = JSON.parse(text) as Record<string, unknown>
  for (const k of ['sdk_keys', 'admin_keys', 'audit', 'next_key_id', 'next_admin_key_id']) delete old[k]
  old.format = 1
  const oldText = canonicalJson(old)
  const oldImage = decodeImage(oldText, createHashHex(oldText))
  if ('problem' in oldImage) throw new Error(oldImage.problem)
  const migrated = stateFromImage(oldImage)
  t.same([...migrated.sdkKeys.values()].map((k) => [k.id, k.environment_id, k.token, k.primary]), [[1, 1, 'token_shop_1', true], [2, 2, 'token_stg_2', true]])
  t.equal(migrated.nextKeyId, 3)
})

import { createHash } from 'node:crypto'
function createHashHex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

t.test('a seed without keys gives each environment a primary key; a seed with keys keeps ids and revocations', async (t) => {
  const base = {
    projects: [{ id: 1, name: 'Shop', settings: {}, created_at: AT, merged_into: null }],
    environments: [{ id: 1, project_id: 1, name: 'Production', api_token: 'token_shop_1', settings: {}, created_at: AT, deleted: false }],
    group_types: [],
  }
  const plain = emptyState()
  foldCommand(plain, { type: 'seed', request_id: 's', at: AT, ...base }, 0)
  t.same(workerTokens(plain), [['token_shop_1', 1, 1]])
  const withKeys = emptyState()
  foldCommand(withKeys, {
    type: 'seed', request_id: 's', at: AT, ...base,
    sdk_keys: [
      { id: 4, environment_id: 1, name: 'Primary', api_token: 'token_shop_1', created_at: AT, revoked: false },
      { id: 7, environment_id: 1, name: 'old', api_token: 'token_shop_old', created_at: AT, revoked: true },
      { id: 9, environment_id: 1, name: 'ios', api_token: 'token_shop_ios', created_at: AT, revoked: false },
    ],
    admin_keys: [{ id: 3, name: 'ops', scopes: [{ access: 'read' }], lookup: 'eeeeeeeeeeee', salt: HEX, hash: HEX, created_at: AT, revoked: false }],
  }, 0)
  t.same(workerTokens(withKeys), [['token_shop_1', 1, 4], ['token_shop_ios', 1, 9]])
  t.ok(withKeys.revoked.has('token_shop_old'))
  t.same([withKeys.nextKeyId, withKeys.nextAdminKeyId, withKeys.adminLookups.get('eeeeeeeeeeee')], [10, 4, 3])
})
