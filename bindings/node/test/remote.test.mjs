// copy, catalog and deleteManifest against the rig's registries (each test fails, naming the
// peer, without them), their cancellation and option checks, and that no rig secret ever
// shows up in what they report.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setImmediate as tick } from 'node:timers/promises'
import { idpkit, newStore, smallContext, rejectsWithCode, record, seen, silentServer } from './helpers.mjs'
import { plainRegistry, tlsRegistry, assertNoSecret } from './rig.mjs'

/** A repository name of its own: the rig's registries are shared by every suite. */
const unique = (what) => `nodetest/${what}-${randomUUID().slice(0, 12)}`

/** Builds a small image tagged `reference` in a new store and pushes it. */
async function pushed(reference, options = {}, files = undefined) {
  const store = newStore()
  const built = await store.build(smallContext(files ?? { 'id.txt': `${reference}\n` }), { tags: [reference] })
  await store.push(reference, null, options)
  return built
}

describe('copy', () => {
  test('within a registry mounts the blobs: same digest, no byte uploaded', async () => {
    const reg = await plainRegistry()
    const src = `${reg}/${unique('copy-src')}:1`
    const built = await pushed(src)
    const dstRepo = `${reg}/${unique('copy-dst')}`

    const { events, onProgress } = record()
    const r = await idpkit.copy(src, `${dstRepo}:2`, { onProgress })
    await tick()
    await tick()
    assert.equal(r.reference, `${dstRepo}:2`)
    assert.equal(r.digest, built.digest)
    assert.equal(r.blobsMounted, 2, JSON.stringify(r)) // the layer and the config
    assert.equal(r.blobsUploaded, 0)
    assert.equal(r.bytesUploaded, 0)
    const mounted = events.filter((e) => e.type === 'blob_mounted')
    assert.equal(mounted.length, 2, JSON.stringify(events))
    assert.equal(mounted[0].from, src.slice(reg.length + 1, -2))
    assert.ok(events.some((e) => e.type === 'manifest_pushed' && e.digest === built.digest))
    assert.deepEqual(await idpkit.listTags(dstRepo), ['2'])

    // A re-tag in the same repository: the blobs are there already.
    const retag = await idpkit.copy(`${dstRepo}:2`, `${dstRepo}:3`)
    assert.equal(retag.digest, built.digest)
    assert.equal(retag.blobsSkipped, 2)
    assert.equal(retag.blobsMounted, 0)
    assert.deepEqual((await idpkit.listTags(dstRepo)).sort(), ['2', '3'])
    const pulled = await newStore().pull(`${dstRepo}:3`)
    assert.equal(pulled.digest, built.digest)
  })

  test('across registries (plain HTTP to TLS with credentials) gives the same manifest digest', async () => {
    const plain = await plainRegistry()
    const tls = await tlsRegistry()
    const src = `${plain}/${unique('copy-x')}:1`
    const built = await pushed(src)
    const dst = `${tls.host}/${unique('copy-x')}:copied`
    const auth = { caFiles: [tls.ca], username: tls.user, password: tls.password }

    const r = await idpkit.copy(src, dst, { ...auth, jobs: 2 })
    assert.equal(r.reference, dst)
    assert.equal(r.digest, built.digest)
    assert.equal(r.blobsUploaded, 2, JSON.stringify(r))
    assert.ok(r.bytesUploaded > 0)
    const pulled = await newStore().pull(dst, auth)
    assert.equal(pulled.digest, built.digest)
  })

  test('a missing source is NOT_FOUND and bad references are INVALID_INPUT', async () => {
    const reg = await plainRegistry()
    const repo = `${reg}/${unique('copy-missing')}`
    await rejectsWithCode(idpkit.copy(`${repo}:nope`, `${repo}:2`, { attempts: 1 }), 'NOT_FOUND')
    await rejectsWithCode(idpkit.copy('Not A Ref', `${repo}:2`), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.copy(`${repo}:1`, 'Not A Ref'), 'INVALID_INPUT')
  })
})

describe('inspectRemote', () => {
  test('reads the pushed manifest and config from the TLS registry without a store', async () => {
    const tls = await tlsRegistry()
    const auth = { caFiles: [tls.ca], username: tls.user, password: tls.password }
    const ref = `${tls.host}/${unique('inspect-remote')}:1`
    const store = newStore()
    await store.build(smallContext({ 'id.txt': `${ref}\n` }), { tags: [ref], labels: { some_label: 'v' } })
    const pushedImage = await store.push(ref, null, auth)
    const local = await store.inspect(ref)

    const fresh = newStore()
    const r = await idpkit.inspectRemote(ref, auth)
    assert.equal(r.reference, ref)
    assert.equal(r.digest, pushedImage.digest)
    assert.equal(r.digest, local.digest)
    assert.equal(r.mediaType, 'application/vnd.oci.image.manifest.v1+json')
    // The manifest and config are data: their own field names, not camelCased.
    assert.deepEqual(r.manifest, local.manifest)
    assert.deepEqual(r.config, local.config)
    assert.ok(Array.isArray(r.config.rootfs.diff_ids), JSON.stringify(r.config))
    assert.deepEqual(r.config.config.Labels, { some_label: 'v' })
    assert.equal(r.indexDigest, null)
    assert.deepEqual(r.platforms, [])
    assert.deepEqual(await fresh.images(), []) // nothing was pulled anywhere
    assertNoSecret(JSON.stringify(r), 'the inspectRemote result')

    const e = await rejectsWithCode(idpkit.inspectRemote(ref, { caFiles: [tls.ca], attempts: 1 }), 'AUTH')
    assert.ok(e.message.includes(tls.host), e.message)
    assert.ok(!e.message.includes(tls.password))
    assertNoSecret(`${e.message}\n${e.stack}`, 'the AUTH error')
  })
})

describe('catalog', () => {
  test('lists a freshly pushed repository', async () => {
    const reg = await plainRegistry()
    const repo = unique('catalog')
    await pushed(`${reg}/${repo}:1`)
    const repos = await idpkit.catalog(reg)
    assert.ok(Array.isArray(repos))
    assert.ok(repos.includes(repo), `${repo} is not among the ${repos.length} repositories`)
    // A registry given as a URL or with a path works the same.
    assert.ok((await idpkit.catalog(`http://${reg}/`)).includes(repo))
  })

  test('the TLS registry lists with credentials and rejects anonymous access with AUTH', async () => {
    const tls = await tlsRegistry()
    const repo = unique('catalog-tls')
    const auth = { caFiles: [tls.ca], username: tls.user, password: tls.password }
    await pushed(`${tls.host}/${repo}:1`, auth)
    assert.ok((await idpkit.catalog(tls.host, auth)).includes(repo))
    const e = await rejectsWithCode(idpkit.catalog(tls.host, { caFiles: [tls.ca] }), 'AUTH')
    assert.match(e.message, new RegExp(tls.host.replaceAll('.', '\\.')))
    // Without the rig's CA the certificate is not trusted, and the message says how to fix it.
    const u = await rejectsWithCode(idpkit.catalog(tls.host, { noPlatformRoots: true, certsD: [], attempts: 1 }), 'UNTRUSTED')
    assert.match(u.message, /unknown certificate authority/)
    assert.match(u.message, /trust add/)
  })
})

describe('deleteManifest', () => {
  test('by tag resolves to the digest; pulling it then fails with NOT_FOUND', async () => {
    const reg = await plainRegistry()
    const repo = `${reg}/${unique('delete')}`
    const doomed = await pushed(`${repo}:doomed`)
    const kept = await pushed(`${repo}:kept`, {}, { 'other.txt': 'another image\n' })
    assert.notEqual(doomed.digest, kept.digest)

    assert.equal(await idpkit.deleteManifest(`${repo}:doomed`), doomed.digest)
    await rejectsWithCode(newStore().pull(`${repo}:doomed`), 'NOT_FOUND')
    await rejectsWithCode(newStore().pull(`${repo}@${doomed.digest}`), 'NOT_FOUND')
    assert.deepEqual(await idpkit.listTags(repo), ['kept'])
    assert.equal((await newStore().pull(`${repo}:kept`)).digest, kept.digest)

    // Again: the tag is gone.
    const e = await rejectsWithCode(idpkit.deleteManifest(`${repo}:doomed`), 'NOT_FOUND')
    assert.match(e.message, /doomed/)
  })

  test('by digest removes the manifest and every tag pointing at it', async () => {
    const reg = await plainRegistry()
    const repo = `${reg}/${unique('delete-digest')}`
    const built = await pushed(`${repo}:a`)
    await idpkit.copy(`${repo}:a`, `${repo}:b`)
    assert.equal(await idpkit.deleteManifest(`${repo}@${built.digest}`), built.digest)
    await rejectsWithCode(newStore().pull(`${repo}:a`), 'NOT_FOUND')
    await rejectsWithCode(newStore().pull(`${repo}:b`), 'NOT_FOUND')
  })
})

describe('cancellation', () => {
  test('an AbortSignal stops catalog, copy and deleteManifest waiting on a silent registry', async () => {
    const silent = await silentServer()
    try {
      for (const call of [
        (signal) => idpkit.catalog(silent.host, { signal }),
        (signal) => idpkit.copy(`${silent.host}/a/b:1`, `${silent.host}/a/c:1`, { signal }),
        (signal) => idpkit.deleteManifest(`${silent.host}/a/b:1`, { signal }),
      ]) {
        const started = Date.now()
        await rejectsWithCode(call(AbortSignal.timeout(300)), 'CANCELLED')
        assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`)
      }
    } finally {
      silent.close()
    }
  })

  test('an already aborted signal rejects at once, before any request', async () => {
    const ac = new AbortController()
    ac.abort()
    // 127.0.0.1:9 refuses connections: a request would be NETWORK, not CANCELLED.
    await rejectsWithCode(idpkit.copy('127.0.0.1:9/a/b:1', '127.0.0.1:9/a/c:1', { signal: ac.signal }), 'CANCELLED')
    await rejectsWithCode(idpkit.catalog('127.0.0.1:9', { signal: ac.signal }), 'CANCELLED')
    await rejectsWithCode(idpkit.deleteManifest('127.0.0.1:9/a/b:1', { signal: ac.signal }), 'CANCELLED')
  })
})

describe('errors', () => {
  test('every new call returns a Promise', async () => {
    // Each call with the code it rejects with (127.0.0.1:9 refuses connections), or a check
    // of what it resolves to: logout and trustCheck resolve for a host nobody answers at.
    const calls = [
      [() => idpkit.copy('127.0.0.1:9/a:1', '127.0.0.1:9/b:1', { attempts: 1 }), 'NETWORK'],
      [() => idpkit.catalog('127.0.0.1:9', { attempts: 1 }), 'NETWORK'],
      [() => idpkit.deleteManifest('127.0.0.1:9/a:1', { attempts: 1 }), 'NETWORK'],
      [() => idpkit.login('127.0.0.1:9', 'u', 'p', { attempts: 1 }), 'NETWORK'],
      [() => idpkit.loginFromCluster('127.0.0.1:9', { kubeconfig: '/nonexistent' }), 'NOT_FOUND'],
      [() => idpkit.logout('127.0.0.1:9'), (r) => assert.equal(typeof r, 'boolean')],
      [() => idpkit.trustCheck('127.0.0.1:9'), (r) => assert.equal(r.verdict, 'unreachable')],
      [() => idpkit.trustAdd('127.0.0.1:9', '/nonexistent.pem'), 'NOT_FOUND'],
      [() => idpkit.trustExtract({ kubeconfig: '/nonexistent' }), 'NOT_FOUND'],
    ]
    for (const [call, outcome] of calls) {
      const p = call()
      assert.ok(p instanceof Promise)
      if (typeof outcome === 'string') await rejectsWithCode(p, outcome)
      else outcome(await p)
    }
  })

  test('an unreachable registry is NETWORK', async () => {
    await rejectsWithCode(idpkit.catalog('127.0.0.1:9', { attempts: 1 }), 'NETWORK')
    await rejectsWithCode(idpkit.deleteManifest('127.0.0.1:9/a/b:1', { attempts: 1 }), 'NETWORK')
    await rejectsWithCode(idpkit.copy('127.0.0.1:9/a/b:1', '127.0.0.1:9/a/c:1', { attempts: 1 }), 'NETWORK')
  })

  test('bad options are INVALID_INPUT, naming the option in camelCase', async () => {
    const e = await rejectsWithCode(idpkit.copy('127.0.0.1:9/a:1', '127.0.0.1:9/b:1', { mountFrm: ['x'] }), 'INVALID_INPUT')
    assert.match(e.message, /unknown field `mountFrm`/)
    assert.match(e.message, /`mountFrom`/)
    await rejectsWithCode(idpkit.catalog('127.0.0.1:9', { jobs: 'many' }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.catalog('127.0.0.1:9', 'fast'), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.deleteManifest('127.0.0.1:9/a:1', { username: 'u' }), 'INVALID_INPUT')
    const typed = await rejectsWithCode(idpkit.catalog('127.0.0.1:9', { username: 'u', password: 424242 }), 'INVALID_INPUT')
    assert.match(typed.message, /`password`: expected a string/)
    assert.doesNotMatch(typed.message, /424242/)
    await rejectsWithCode(idpkit.deleteManifest('Not A Ref'), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.copy('127.0.0.1:9/a:1', '127.0.0.1:9/b:1', { onProgress: 'no' }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.catalog('127.0.0.1:9', { signal: 'stop' }), 'INVALID_INPUT')
  })

  test('a wrong password rejects with AUTH naming the registry and user, never the password', async () => {
    const tls = await tlsRegistry()
    const wrong = `not-the-password-${randomUUID()}`
    const opts = { caFiles: [tls.ca], username: tls.user, password: wrong }
    for (const call of [
      () => idpkit.catalog(tls.host, opts),
      () => idpkit.copy(`${tls.host}/${unique('auth')}:1`, `${tls.host}/${unique('auth')}:2`, opts),
      () => idpkit.deleteManifest(`${tls.host}/${unique('auth')}:1`, opts),
    ]) {
      const e = await rejectsWithCode(call(), 'AUTH')
      assert.ok(e.message.includes(tls.host), e.message)
      assert.ok(e.message.includes(`user ${tls.user}`), e.message)
      assertNoSecret(`${e.message}\n${e.stack}`, 'the AUTH error', { 'the wrong password': wrong })
    }
  })
})

test('no rig password or token appears in an error message or event seen here', () => {
  assert.ok(seen.errors.length > 10, `only ${seen.errors.length} errors seen`)
  for (const e of seen.errors) assertNoSecret(`${e.code} ${e.message}\n${e.stack}`, 'an error')
  for (const ev of seen.events) assertNoSecret(JSON.stringify(ev), 'an event')
})
