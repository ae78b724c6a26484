// push, pull and listTags against the rig's plain-HTTP registry (fails, naming the peer, without it), and
// the registry options' validation (no peer needed).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setImmediate as tick } from 'node:timers/promises'
import { createServer } from 'node:net'
import { idpkit, newStore, smallContext, rejectsWithCode } from './helpers.mjs'
import { plainRegistry } from './rig.mjs'

describe('registry', () => {
  test('push, listTags and pull round-trip an image', async () => {
    const REGISTRY = await plainRegistry()
    const store = newStore()
    const repo = `${REGISTRY}/nodetest/app-${randomUUID().slice(0, 12)}`
    const built = await store.build(smallContext(), { tags: [`${repo}:1`] })

    const events = []
    const pushed = await store.push(`${repo}:1`, null, { onProgress: (e) => events.push(e), jobs: 2 })
    await tick()
    await tick()
    assert.equal(pushed.reference, `${repo}:1`)
    assert.equal(pushed.digest, built.digest)
    assert.equal(pushed.blobsUploaded, 2) // layer and config
    assert.ok(pushed.bytesUploaded > 0)
    assert.equal(pushed.unchanged, false)
    const types = new Set(events.map((e) => e.type))
    assert.ok(types.has('manifest_pushed') && types.has('blob_done'), [...types].join(','))

    const again = await store.push(`${repo}:1`, `${repo}:2`)
    assert.equal(again.blobsUploaded, 0)
    assert.equal(again.digest, built.digest)
    assert.equal((await store.push(`${repo}:1`)).unchanged, true)
    assert.deepEqual((await idpkit.listTags(repo)).sort(), ['1', '2'])

    const other = newStore()
    const pulled = await other.pull(`${repo}:2`, { jobs: 2 })
    assert.equal(pulled.digest, built.digest)
    assert.equal(pulled.blobsFetched, 2)
    assert.equal(pulled.indexDigest, null)
    assert.deepEqual((await other.inspect(pulled.reference)).manifest, (await store.inspect(`${repo}:1`)).manifest)

    await rejectsWithCode(other.pull(`${repo}:missing`), 'NOT_FOUND')
  })

  test('concurrent pushes from Promise.all', async () => {
    const REGISTRY = await plainRegistry()
    const store = newStore()
    const repo = `${REGISTRY}/nodetest/many-${randomUUID().slice(0, 12)}`
    await Promise.all([0, 1, 2].map((i) => store.build(smallContext({ [`f${i}`]: `${i}` }), { tags: [`${repo}:${i}`] })))
    const results = await Promise.all([0, 1, 2].map((i) => store.push(`${repo}:${i}`)))
    assert.equal(new Set(results.map((r) => r.digest)).size, 3)
    assert.deepEqual((await idpkit.listTags(repo)).sort(), ['0', '1', '2'])
  })
})

describe('registry errors', () => {
  test('an unreachable registry is NETWORK', async () => {
    const store = newStore()
    await store.build(smallContext(), { tags: ['127.0.0.1:9/team/app:1'] })
    await rejectsWithCode(store.push('127.0.0.1:9/team/app:1', null, { attempts: 1, connectTimeoutSecs: 2 }), 'NETWORK')
    await rejectsWithCode(idpkit.listTags('127.0.0.1:9/team/app', { attempts: 1 }), 'NETWORK')
  })

  test('bad options are INVALID_INPUT', async () => {
    const store = newStore()
    const e = await rejectsWithCode(store.pull('127.0.0.1:9/a:1', { job: 2 }), 'INVALID_INPUT')
    assert.match(e.message, /unknown field `job`/)
    assert.match(e.message, /`jobs`/)
    assert.match(e.message, /`connectTimeoutSecs`/)
    await rejectsWithCode(store.pull('127.0.0.1:9/a:1', { jobs: 'many' }), 'INVALID_INPUT')
    await rejectsWithCode(store.pull('127.0.0.1:9/a:1', { username: 'u' }), 'INVALID_INPUT')
    await rejectsWithCode(store.pull('127.0.0.1:9/a:1', { username: 'u', password: 'p', token: 't' }), 'INVALID_INPUT')
    await rejectsWithCode(store.push('missing:1'), 'NOT_FOUND')
    await rejectsWithCode(idpkit.listTags('Not A Repo'), 'INVALID_INPUT')
  })

  test('a password never appears in an error message', async () => {
    const store = newStore()
    const e = await rejectsWithCode(
      store.pull('127.0.0.1:9/a:1', { username: 'u', password: 'hunter2-secret', attempts: 1, connectTimeoutSecs: 1 }),
      'NETWORK',
    )
    assert.doesNotMatch(e.message, /hunter2/)
  })

  test('an AbortSignal cancels a push that is waiting on a silent registry', async () => {
    // Accepts connections and never answers: only cancellation ends the push early.
    const held = []
    const silent = createServer((socket) => held.push(socket))
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address()
    try {
      const store = newStore()
      const tag = `127.0.0.1:${port}/team/app:1`
      await store.build(smallContext(), { tags: [tag] })
      const started = Date.now()
      await rejectsWithCode(store.push(tag, null, { signal: AbortSignal.timeout(300) }), 'CANCELLED')
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`)
    } finally {
      held.forEach((s) => s.destroy())
      silent.close()
    }
  })
})
