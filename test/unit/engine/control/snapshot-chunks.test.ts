// engine/control/state-image.ts, snapshot-chunks.ts and checkpoints.ts: a
// snapshot carries the whole control state, fits any broker's message size,
// comes back identical, and a state that differs is named by its first
// differing entity.
import t from 'tap'
import { Checkpoints } from '../../../../engine/control/checkpoints'
import { encodeCommand, type Command, type SnapshotChunk } from '../../../../engine/control/commands'
import { emptyState, foldAll, foldCommand, type ControlState } from '../../../../engine/control/fold'
import { SnapshotAssembler, snapshotChunks } from '../../../../engine/control/snapshot-chunks'
import { encodeImage, firstDifference, stateFromImage, stateImage } from '../../../../engine/control/state-image'

const AT = '2025-01-01T00:00:00.000Z'
let n = 0
const cmd = (c: Record<string, unknown>): Command => ({ request_id: `r${n++}`, at: AT, ...c }) as unknown as Command

/** Two projects with environments, settings, a rotation, a deletion and group types: every part of the state. */
function busyLog(): Command[] {
  return [
    cmd({ type: 'create_project', name: 'Shop', api_token: 'token_shop_1' }),
    cmd({ type: 'create_environment', project_id: 1, name: 'Staging', api_token: 'token_shop_2' }),
    cmd({ type: 'create_environment', project_id: 1, name: 'EU', api_token: 'token_shop_3' }),
    cmd({ type: 'create_project', name: 'Blog', api_token: 'token_blog_1' }),
    cmd({ type: 'update_project', project_id: 1, settings: { drop_event_names: ['spam'] } }),
    cmd({ type: 'update_environment', environment_id: 2, settings: { anonymize_ips: true } }),
    cmd({ type: 'rotate_token', environment_id: 3, api_token: 'token_shop_3b' }),
    cmd({ type: 'delete_environment', environment_id: 2 }),
    cmd({ type: 'claim_group_type', project_id: 1, group_type: 'company' }),
    cmd({ type: 'claim_group_type', project_id: 1, group_type: 'team' }),
    cmd({ type: 'claim_group_type', project_id: 4, group_type: 'org' }),
  ]
}

const hashOf = (s: ControlState) => encodeImage(stateImage(s)).hash

/** The assembler's answer to the last chunk, or its first complaint. */
function assemble(chunks: SnapshotChunk[]) {
  const a = new SnapshotAssembler()
  const results = chunks.map((c, i) => a.add(c, 100 + i))
  return results.find((r) => r.kind === 'corrupt') ?? results[results.length - 1]
}

const asCommands = (bodies: ReturnType<typeof snapshotChunks>): SnapshotChunk[] => bodies.map((b, i) => ({ ...b, request_id: `chunk${i}`, at: AT }))

t.test('a state loaded from its image folds on exactly like the original', async (t) => {
  const { state } = foldAll(busyLog())
  const image = stateImage(state)
  const loaded = stateFromImage(image)
  t.equal(hashOf(loaded), hashOf(state), 'same hash right after loading')
  t.same([...loaded.tokens].sort(), [...state.tokens].sort(), 'the same live tokens')
  t.same([...loaded.revoked].sort(), ['token_shop_2', 'token_shop_3'], 'revoked tokens travel too: they are never handed out again')

  const more = [
    cmd({ type: 'create_project', name: 'Next', api_token: 'token_next_1' }),
    cmd({ type: 'create_project', name: 'Again', api_token: 'token_shop_2' }), // a revoked token
    cmd({ type: 'claim_group_type', project_id: 1, group_type: 'company' }),
  ]
  const original = more.map((c, i) => foldCommand(state, c, 20 + i))
  const fromImage = more.map((c, i) => foldCommand(loaded, c, 20 + i))
  t.same(fromImage, original, 'the same outcomes')
  t.equal((original[0] as { project_id: number }).project_id, 5, 'the id counter continues: id 5 is new in both')
  t.equal(original[1].ok, false, 'a revoked token is refused after loading as before')
  t.equal(hashOf(loaded), hashOf(state), 'and the same state afterwards')

  const dup = busyLog()[0]
  const s1 = emptyState()
  foldCommand(s1, dup, 0)
  const s2 = stateFromImage(stateImage(s1))
  t.same(foldCommand(s2, dup, 1), foldCommand(s1, dup, 1), 'a duplicated command is recognised after loading too (remembered outcomes travel)')
})

t.test('the hash does not depend on the order the state was built in', async (t) => {
  const a = foldAll(busyLog()).state
  const b = stateFromImage(JSON.parse(JSON.stringify({ ...stateImage(a), projects: [...stateImage(a).projects].reverse() })))
  t.equal(hashOf(b), hashOf(a))
})

t.test('a snapshot of 10,000 environments is compressed into messages under 1 MB and comes back whole', async (t) => {
  const state = emptyState()
  foldCommand(state, cmd({ type: 'create_project', name: 'Big', api_token: 'token_big_000000' }), 0)
  for (let i = 1; i < 10_000; i++) {
    foldCommand(state, cmd({ type: 'create_environment', project_id: 1, name: `Environment ${i} ${'é'.repeat(20)}`, api_token: `token_env_${String(i).padStart(6, '0')}` }), i)
  }
  t.equal(state.environments.size, 10_000)
  const { text, hash } = encodeImage(stateImage(state))
  const chunks = asCommands(snapshotChunks('s1', state.offset, text, hash))
  const sizes = chunks.map((c) => encodeCommand(c).length)
  const onLog = sizes.reduce((a, b) => a + b, 0)
  t.ok(onLog < text.length / 4, `${text.length} characters of image take ${onLog} bytes in ${chunks.length} message(s)`)
  const many = asCommands(snapshotChunks('s1b', state.offset, text, hash, 50_000))
  t.ok(many.length > 1, `cut smaller, ${many.length} chunks`)
  t.equal(assemble(many).kind, 'complete', 'and put together again')
  t.ok(Math.max(...sizes) < 1_000_000, `largest message ${Math.max(...sizes)} bytes`)
  const r = assemble(chunks)
  t.equal(r.kind, 'complete')
  if (r.kind !== 'complete') return
  t.equal(hashOf(stateFromImage(r.image)), hash, 'the reassembled state has the same hash')
  t.equal(stateFromImage(r.image).tokens.get('token_env_009999'), 10_000, 'the last environment (ids 2–10000 after the project\'s own) resolves')
})

t.test('chunks that escape badly still fit: names of control characters and split surrogate pairs', async (t) => {
  const state = emptyState()
  foldCommand(state, cmd({ type: 'create_project', name: '\u0001'.repeat(200), api_token: 'token_ctl_00000' }), 0)
  for (let i = 1; i < 400; i++) foldCommand(state, cmd({ type: 'create_environment', project_id: 1, name: '\u0001\u{1F600}'.repeat(66), api_token: `token_ctl_${String(i).padStart(5, '0')}` }), i)
  const { text, hash } = encodeImage(stateImage(state))
  const chunks = asCommands(snapshotChunks('s2', state.offset, text, hash, 1001)) // an odd size splits pairs
  t.ok(Math.max(...chunks.map((c) => encodeCommand(c).length)) < 1_000_000)
  const roundTripped = chunks.map((c) => JSON.parse(encodeCommand(c).toString('utf8')) as SnapshotChunk)
  const r = assemble(roundTripped)
  t.equal(r.kind, 'complete', 'surrogate halves rejoin after travelling as JSON')
})

t.test('incomplete, mixed-up or tampered snapshots are never used', async (t) => {
  const { state } = foldAll(busyLog())
  const { text, hash } = encodeImage(stateImage(state))
  const chunks = asCommands(snapshotChunks('s3', state.offset, text, hash, 200))
  t.ok(chunks.length > 3)
  t.equal(assemble(chunks.slice(1)).kind, 'partial', 'a snapshot whose first chunk fell to retention never completes')
  t.equal(assemble(chunks.slice(0, -1)).kind, 'partial', 'nor one missing its last chunk')
  const tampered = chunks.map((c, i) => (i === 1 ? { ...c, data: (c.data[0] === 'x' ? 'y' : 'x') + c.data.slice(1) } : c))
  const r = assemble(tampered)
  t.equal(r.kind, 'corrupt')
  t.match(r, { problem: /does not match its hash|does not decompress/ })
  const mixed = chunks.map((c, i) => (i === 2 ? { ...c, count: c.count + 1 } : c))
  t.match(assemble(mixed), { kind: 'corrupt', problem: /disagree/ })
  const otherBase = asCommands(snapshotChunks('s4', state.offset + 1, text, hash, 200))
  t.match(assemble(otherBase), { kind: 'corrupt', problem: /not its base offset/ })
})

t.test('the first differing entity is named', async (t) => {
  const mine = stateImage(foldAll(busyLog()).state)
  const renamed = JSON.parse(JSON.stringify(mine))
  renamed.projects[0].name = 'Forged'
  t.equal(firstDifference(mine, renamed), 'project 1: name differs ("Shop" here, "Forged" in the snapshot)')
  const moreEnvs = JSON.parse(JSON.stringify(mine))
  moreEnvs.environments.push({ ...moreEnvs.environments[0], id: 99 })
  t.equal(firstDifference(mine, moreEnvs), 'environment 99: exists in the snapshot, not here')
  const token = JSON.parse(JSON.stringify(mine))
  token.environments[0].api_token = 'token_other_1'
  t.equal(firstDifference(mine, token), 'environment 1: api_token differs (token_… here, token_… in the snapshot)', 'tokens are not printed whole')
  const counter = JSON.parse(JSON.stringify(mine))
  counter.next_id = 3
  t.equal(firstDifference(mine, counter), 'id counter: next id 5 here, 3 in the snapshot')
  t.equal(firstDifference(mine, JSON.parse(JSON.stringify(mine))), undefined)
})

t.test('a checkpoint is due after N commands or M bytes; a snapshot is checked against the state at its base', async (t) => {
  const byCount = new Checkpoints({ everyCommands: 3, everyBytes: 1e9 })
  byCount.counted(10)
  byCount.counted(10)
  t.notOk(byCount.due)
  byCount.counted(10)
  t.ok(byCount.due, 'due after 3 commands')
  const { state } = foldAll(busyLog())
  const recorded = byCount.record(11, state)
  t.notOk(byCount.due, 'a checkpoint, anyone\'s, starts the count again')
  const bySize = new Checkpoints({ everyCommands: 1e9, everyBytes: 100 })
  bySize.counted(60)
  t.notOk(bySize.due)
  bySize.counted(60)
  t.ok(bySize.due, 'due after 100 bytes')

  t.same(byCount.verify(11, recorded.hash, recorded.image), { kind: 'agrees' })
  const forged = JSON.parse(JSON.stringify(recorded.image))
  forged.projects[1].settings.drop_event_names = ['x']
  const verdict = byCount.verify(11, encodeImage(forged).hash, forged)
  t.same(verdict, { kind: 'diverged', difference: 'project 4: settings differs ({"drop_event_names":[],"redact_property_names":[]} here, {"drop_event_names":["x"],"redact_property_names":[]} in the snapshot)' })
  t.same(byCount.verify(5, recorded.hash, recorded.image), { kind: 'unknown' }, 'no own record at an older offset')
  t.equal(byCount.newestSnapshot, 11)
})
