// copy, catalog and deleteManifest against the rig's registries (each test fails, naming the
// peer, without them), their cancellation and option checks, and that no rig secret ever
// shows up in what they report.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomUUID } from 'node:crypto'
import { statSync } from 'node:fs'
import { join } from 'node:path'
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
    assert.equal(r.index, null)
    assert.deepEqual(r.platforms, [])
    assert.deepEqual(await fresh.images(), []) // nothing was pulled anywhere
    assertNoSecret(JSON.stringify(r), 'the inspectRemote result')

    const e = await rejectsWithCode(idpkit.inspectRemote(ref, { caFiles: [tls.ca], attempts: 1 }), 'AUTH')
    assert.ok(e.message.includes(tls.host), e.message)
    assert.ok(!e.message.includes(tls.password))
    assertNoSecret(`${e.message}\n${e.stack}`, 'the AUTH error')
  })
})

const INDEX = 'application/vnd.oci.image.index.v1+json'
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json'

/**
 * A 2-platform image on the plain registry, as `docker buildx` or `crane index append` leave
 * one: an image per platform built into `store` (tagged `localhost/multi:<arch>`, with
 * `ARCH=<arch>` in its env), pushed as `repo:amd` and `repo:arm`, then an OCI index of both PUT
 * as `repo:multi`. Returns the index's digest and the built images by architecture.
 */
async function multiPlatformIndex(store, repo) {
  const images = {}
  for (const [arch, tag] of [
    ['amd64', 'amd'],
    ['arm64', 'arm'],
  ]) {
    const local = `localhost/multi:${arch}`
    const built = await store.build(smallContext({ arch: `${arch}\n` }), {
      tags: [local],
      platform: `linux/${arch}`,
      env: { ARCH: arch },
      sourceDateEpoch: 1_700_000_000,
    })
    await store.push(local, `${repo}:${tag}`)
    // The manifest's size, as the index's descriptor gives it: its blob in the store.
    const size = statSync(join(store.path, 'blobs', 'sha256', built.digest.slice('sha256:'.length))).size
    images[arch] = { ...built, local, size }
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: Object.entries(images).map(([arch, { digest, size }]) => ({
        mediaType: MANIFEST,
        digest,
        size,
        platform: { os: 'linux', architecture: arch },
      })),
      annotations: { 'org.opencontainers.image.title': 'multi' },
    }),
  )
  const digest = `sha256:${createHash('sha256').update(index).digest('hex')}`
  const [host, ...path] = repo.split('/')
  const res = await fetch(`http://${host}/v2/${path.join('/')}/manifests/multi`, {
    method: 'PUT',
    headers: { 'content-type': INDEX },
    body: index,
  })
  assert.equal(res.status, 201, `PUT of the index: HTTP ${res.status}: ${await res.text()}`)
  assert.equal(res.headers.get('docker-content-digest'), digest)
  return { digest, images }
}

describe('a multi-platform index', () => {
  test('inspectRemote types the index, the chosen manifest and its config; copy and pull take every platform', async () => {
    const plain = await plainRegistry()
    const tls = await tlsRegistry()
    const auth = { caFiles: [tls.ca], username: tls.user, password: tls.password }
    const store = newStore()
    const repo = `${plain}/${unique('multi')}`
    const { digest, images } = await multiPlatformIndex(store, repo)
    const multi = `${repo}:multi`

    // Read without pulling: the index itself under its own (OCI) names, and the chosen
    // platform's manifest and config.
    const r = await idpkit.inspectRemote(multi, { platform: 'linux/arm64' })
    assert.equal(r.mediaType, MANIFEST)
    assert.equal(r.indexDigest, digest)
    assert.deepEqual(r.platforms, ['linux/amd64', 'linux/arm64'])
    assert.equal(r.index.schemaVersion, 2)
    assert.equal(r.index.mediaType, INDEX)
    assert.equal(r.index.manifests.length, 2)
    assert.deepEqual(
      r.index.manifests.map((m) => [m.mediaType, m.digest, m.size, m.platform.os, m.platform.architecture]),
      [
        [MANIFEST, images.amd64.digest, images.amd64.size, 'linux', 'amd64'],
        [MANIFEST, images.arm64.digest, images.arm64.size, 'linux', 'arm64'],
      ],
    )
    assert.deepEqual(r.index.annotations, { 'org.opencontainers.image.title': 'multi' })
    assert.equal(r.digest, images.arm64.digest)
    assert.equal(r.manifest.schemaVersion, 2)
    assert.equal(r.manifest.mediaType, MANIFEST)
    assert.equal(r.manifest.layers.length, 1)
    assert.equal(r.manifest.layers[0].digest, images.arm64.layer.digest)
    assert.equal(r.manifest.layers[0].mediaType, images.arm64.layer.mediaType)
    assert.equal(r.manifest.config.digest, images.arm64.configDigest)
    assert.equal(r.config.architecture, 'arm64')
    assert.equal(r.config.os, 'linux')
    assert.deepEqual(r.config.rootfs.diff_ids, [images.arm64.layer.diffId])
    assert.ok(r.config.created instanceof Date, `config.created: ${r.config.created}`)
    assert.equal(r.config.created.toISOString(), '2023-11-14T22:13:20.000Z')
    const amd = await idpkit.inspectRemote(multi, { platform: 'linux/amd64' })
    assert.equal(amd.digest, images.amd64.digest)
    assert.equal(amd.config.architecture, 'amd64')
    assert.ok(amd.config.config.Env.includes('ARCH=amd64'), JSON.stringify(amd.config.config))
    assert.deepEqual(amd.index, r.index)

    // Locally: the config as the build wrote it, under the image spec's names, its times Dates.
    const local = await store.inspect(images.arm64.local)
    assert.equal(local.digest, images.arm64.digest)
    assert.deepEqual(local.manifest, r.manifest)
    assert.deepEqual(local.config, r.config)
    assert.ok(local.config.config.Env.includes('ARCH=arm64'), JSON.stringify(local.config.config))
    assert.ok(local.config.created instanceof Date)
    assert.equal(local.config.created.getTime(), 1_700_000_000_000)
    assert.deepEqual(local.config.rootfs, { type: 'layers', diff_ids: [images.arm64.layer.diffId] })
    assert.equal(local.config.history.length, 1)
    assert.ok(local.config.history[0].created instanceof Date)
    assert.equal(local.config.history[0].created.getTime(), 1_700_000_000_000)
    assert.match(local.config.history[0].created_by, /^idpkit build/)

    // Copy with every platform to the TLS registry: the index byte for byte (same digest),
    // and each platform's manifest.
    const dst = `${tls.host}/${unique('multi-copy')}`
    const copied = await idpkit.copy(multi, `${dst}:all`, { allPlatforms: true, ...auth })
    assert.equal(copied.reference, `${dst}:all`)
    assert.equal(copied.digest, digest)
    const there = await idpkit.inspectRemote(`${dst}:all`, { platform: 'linux/amd64', ...auth })
    assert.equal(there.indexDigest, digest)
    assert.deepEqual(there.index, r.index)
    assert.deepEqual(there.config, amd.config)
    for (const { digest: child } of Object.values(images)) {
      assert.equal((await idpkit.inspectRemote(`${dst}@${child}`, auth)).digest, child)
    }
    // Without allPlatforms, one platform arrives, as its own manifest.
    const one = await idpkit.copy(multi, `${dst}:one`, { platform: 'linux/arm64', ...auth })
    assert.equal(one.digest, images.arm64.digest)

    // Pull with every platform: the store tags the index.
    const fresh = newStore()
    const pulled = await fresh.pull(multi, { allPlatforms: true })
    assert.equal(pulled.digest, digest)
    assert.equal(pulled.indexDigest, digest)
    const stored = await fresh.images()
    assert.deepEqual(
      stored.map((i) => [i.reference, i.digest, i.mediaType]),
      [[pulled.reference, digest, INDEX]],
    )
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
