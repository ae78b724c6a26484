// The asynchronous contract: promises off the event loop, concurrency, progress, cancellation.
import { test, describe, before } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { getEventListeners } from 'node:events'
import { newStore, smallContext, bigContext, slow, rejectsWithCode } from './helpers.mjs'

before(() => bigContext())

describe('event loop', () => {
  test('every method returns a Promise', async () => {
    const store = newStore()
    const ctx = smallContext()
    // Each call with what it settles to: a check of the value, or the code it rejects with.
    const calls = [
      [() => store.build(ctx, { tags: ['a:1'] }), (r) => assert.deepEqual(r.tags, ['docker.io/library/a:1'])],
      [() => store.images(), (r) => assert.equal(r.length, 1)],
      [() => store.tag('a:1', 'b:1'), (r) => assert.equal(r.reference, 'docker.io/library/b:1')],
      [() => store.inspect('a:1'), (r) => assert.equal(r.reference, 'docker.io/library/a:1')],
      [() => store.remove('b:1'), (r) => assert.deepEqual(r, ['docker.io/library/b:1'])],
      [() => store.gc(), (r) => assert.deepEqual(r, { removedBlobs: 0, freedBytes: 0 })],
      [() => store.export('missing:1', '/nonexistent/x'), 'NOT_FOUND'],
      [() => store.importLayout('/nonexistent/x'), 'NOT_FOUND'],
    ]
    for (const [call, outcome] of calls) {
      const p = call()
      assert.ok(p instanceof Promise)
      if (typeof outcome === 'string') await rejectsWithCode(p, outcome)
      else outcome(await p)
    }
  })

  test('keeps ticking while a large no-cache build runs', async (t) => {
    const store = newStore()
    let ticks = 0
    const timer = setInterval(() => ticks++, 5)
    const started = performance.now()
    try {
      await store.build(bigContext(), { ...slow, tags: ['big:1'] })
    } finally {
      clearInterval(timer)
    }
    const elapsed = performance.now() - started
    t.diagnostic(`${ticks} interval ticks during a ${elapsed.toFixed(0)} ms build`)
    // The build must be long enough for the test to mean something, and the interval must
    // have fired throughout it: a blocked loop would fire it at most once or twice.
    assert.ok(elapsed > 150, `the build took only ${elapsed.toFixed(0)} ms; make the context bigger`)
    assert.ok(ticks >= Math.min(20, elapsed / 5 / 4), `${ticks} ticks in ${elapsed.toFixed(0)} ms`)
  })
})

describe('concurrency', () => {
  test('concurrent builds from Promise.all into one store', async () => {
    const store = newStore()
    const contexts = Array.from({ length: 6 }, (_, i) => smallContext({ [`f${i}.txt`]: `file ${i}\n` }))
    const results = await Promise.all(
      contexts.map((ctx, i) => store.build(ctx, { tags: [`app:${i}`], noCache: true })),
    )
    assert.equal(new Set(results.map((r) => r.digest)).size, 6)
    const images = await store.images()
    assert.deepEqual(
      images.map((i) => i.reference).sort(),
      contexts.map((_, i) => `docker.io/library/app:${i}`).sort(),
    )
    for (const [i, r] of results.entries()) {
      assert.equal((await store.inspect(`app:${i}`)).digest, r.digest)
    }
  })

  test('the same context built concurrently gives the same digest', async () => {
    const store = newStore()
    const ctx = smallContext()
    const results = await Promise.all([1, 2, 3, 4].map((n) => store.build(ctx, { tags: [`same:${n}`] })))
    assert.equal(new Set(results.map((r) => r.digest)).size, 1)
    assert.equal((await store.images()).length, 4)
  })

  test('reads run concurrently with a build', async () => {
    const store = newStore()
    await store.build(smallContext(), { tags: ['small:1'] })
    const build = store.build(bigContext(), { ...slow, tags: ['big:1'] })
    const [images, info] = await Promise.all([store.images(), store.inspect('small:1')])
    assert.equal(images.length, 1)
    assert.equal(info.reference, 'docker.io/library/small:1')
    await build
    assert.equal((await store.images()).length, 2)
  })
})

describe('progress', () => {
  test('onProgress receives the build events, camelCase, in order', async () => {
    const store = newStore()
    const events = []
    const r = await store.build(bigContext(), {
      tags: ['big:1'],
      noCache: true,
      onProgress: (e) => events.push(e),
    })
    // The last events may be delivered just after the promise settles.
    await tick()
    await tick()
    const types = events.map((e) => e.type)
    assert.equal(types[0], 'build_started')
    assert.ok(types.includes('layer_progress'), types.join(','))
    assert.ok(types.includes('layer_done'), types.join(','))
    assert.equal(types.at(-1), 'image_stored')
    const started = events[0]
    assert.equal(started.context, bigContext())
    const progress = events.filter((e) => e.type === 'layer_progress')
    for (let i = 1; i < progress.length; i++) {
      assert.ok(progress[i].bytes >= progress[i - 1].bytes)
    }
    assert.ok(progress.at(-1).files > 0)
    const done = events.find((e) => e.type === 'layer_done')
    assert.equal(done.digest, r.layer.digest)
    assert.equal(done.diffId, r.layer.diffId)
    assert.equal(done.size, r.layer.size)
    assert.deepEqual(events.at(-1), { type: 'image_stored', digest: r.digest, tags: ['docker.io/library/big:1'] })
  })

  test('a cached build reports layer_cached', async () => {
    const store = newStore()
    const ctx = smallContext()
    await store.build(ctx)
    const events = []
    const r = await store.build(ctx, { onProgress: (e) => events.push(e) })
    await tick()
    await tick()
    assert.equal(r.cached, true)
    assert.deepEqual(events.find((e) => e.type === 'layer_cached'), { type: 'layer_cached', digest: r.layer.digest })
  })
})

describe('cancellation', () => {
  test('aborting the signal mid-build rejects with CANCELLED and stores nothing', async () => {
    const store = newStore()
    const ac = new AbortController()
    let progressed = false
    const build = store.build(bigContext(), {
      ...slow,
      tags: ['big:1'],
      signal: ac.signal,
      onProgress: (e) => {
        if (e.type === 'layer_progress' && !progressed) {
          progressed = true
          ac.abort()
        }
      },
    })
    const started = performance.now()
    const e = await rejectsWithCode(build, 'CANCELLED')
    assert.match(e.message, /cancel/)
    assert.ok(progressed, 'the build was cancelled before it made progress')
    assert.deepEqual(await store.images(), [])
    assert.ok(performance.now() - started < 30_000)
  })

  test('aborting after a timeout stops a long build early', async () => {
    const store = newStore()
    const full = performance.now()
    await store.build(bigContext(), slow)
    const fullMs = performance.now() - full
    const started = performance.now()
    await rejectsWithCode(store.build(bigContext(), { ...slow, signal: AbortSignal.timeout(Math.round(Math.max(20, fullMs / 4))) }), 'CANCELLED')
    const cancelledMs = performance.now() - started
    assert.ok(cancelledMs < fullMs, `cancelled after ${cancelledMs.toFixed(0)} ms, full build ${fullMs.toFixed(0)} ms`)
  })

  test('an already aborted signal rejects at once with CANCELLED', async () => {
    const store = newStore()
    const ac = new AbortController()
    ac.abort()
    await rejectsWithCode(store.build(smallContext(), { tags: ['x:1'], signal: ac.signal }), 'CANCELLED')
    assert.deepEqual(await store.images(), [])
  })

  test('one signal cancels several builds; a signal not aborted changes nothing', async () => {
    const store = newStore()
    const ac = new AbortController()
    const builds = [1, 2, 3].map((n) => store.build(bigContext(), { ...slow, tags: [`b:${n}`], signal: ac.signal }))
    setTimeout(() => ac.abort(), 50)
    const settled = await Promise.allSettled(builds)
    for (const s of settled) {
      if (s.status === 'rejected') assert.equal(s.reason.code, 'CANCELLED')
    }
    assert.ok(settled.some((s) => s.status === 'rejected'))

    const kept = new AbortController()
    const r = await store.build(smallContext(), { tags: ['ok:1'], signal: kept.signal })
    assert.deepEqual(r.tags, ['docker.io/library/ok:1'])
    kept.abort() // after completion: harmless
  })

  test("a signal keeps the caller's onabort and gains no listener per call", async () => {
    const store = newStore()
    const ac = new AbortController()
    let own = 0
    ac.signal.onabort = () => { own++ }
    const mine = () => { own++ }
    ac.signal.addEventListener('abort', mine)
    const before = getEventListeners(ac.signal, 'abort').length
    for (const n of [1, 2, 3]) {
      await store.build(smallContext(), { tags: [`keep:${n}`], signal: ac.signal })
    }
    await rejectsWithCode(store.build(smallContext(), { tags: ['bad'], signal: ac.signal, nope: 1 }), 'INVALID_INPUT')
    assert.equal(getEventListeners(ac.signal, 'abort').length, before, 'listeners left behind by finished calls')
    ac.abort()
    assert.equal(own, 2, "the caller's own onabort and listener both ran")
  })

  test('a signal that is not an AbortSignal is INVALID_INPUT', async () => {
    const store = newStore()
    await rejectsWithCode(store.build(smallContext(), { signal: 'stop' }), 'INVALID_INPUT')
  })
})
