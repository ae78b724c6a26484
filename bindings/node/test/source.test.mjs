// GitOps sources against the rig's nginx (each test fails, naming the peer, without it):
// sourceFetchArtifact of the fixture's tarball into a temporary cache trusting only the rig CA,
// then a hit; a wrong digest; a hostile tarball this test serves from the rig's artifacts
// directory; sourceList and sourceGc; option checks; promises run concurrently; AbortSignal.
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash, randomUUID } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { idpkit, tempDir, rejectsWithCode, record, seen } from './helpers.mjs'
import { need, needFile, hostPort, assertNoSecret } from './rig.mjs'
import { connect } from 'node:net'

/** The rig's nginx serving Flux-style artifacts; fails the test, naming the peer, when it is down. */
async function artifacts() {
  const url = need('nginx', 'ARTIFACT_URL')
  const address = hostPort(url)
  const i = address.lastIndexOf(':')
  const up = await new Promise((resolve) => {
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) })
    s.setTimeout(3000, () => (s.destroy(), resolve(false)))
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
  if (!up) assert.fail(`peer nginx is not answering at ${address}: start the rig with tests/rig/up`)
  return {
    url,
    digest: `sha256:${need('nginx', 'ARTIFACT_SHA256')}`,
    base: url.slice(0, url.lastIndexOf('/') + 1),
    dir: join(need('nginx', 'DIR'), 'artifacts'),
    // The rig's CA and nothing else: no platform roots, no certs.d.
    trust: { caFiles: [needFile('nginx', 'CA')], noPlatformRoots: true, certsD: [] },
  }
}

const served = []
after(() => served.forEach((p) => rmSync(p, { force: true })))

/** Puts `bytes` where nginx serves them (a dot-temp file renamed into place); returns URL and digest. */
function serve(rig, name, bytes) {
  const file = `node-${process.pid}-${randomUUID().slice(0, 12)}-${name}`
  const tmp = join(rig.dir, `.${file}.tmp`)
  writeFileSync(tmp, bytes)
  renameSync(tmp, join(rig.dir, file))
  served.push(join(rig.dir, file))
  return { url: rig.base + file, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` }
}

/** A gzipped ustar archive of one regular file `name` holding `data`, byte by byte. */
function gzippedTar(name, data = Buffer.from('x')) {
  const h = Buffer.alloc(512)
  const put = (off, s) => h.write(s, off, 'latin1')
  put(0, name)
  put(100, '0000644\0')
  put(108, '0000000\0')
  put(116, '0000000\0')
  put(124, `${data.length.toString(8).padStart(11, '0')}\0`)
  put(136, '00000000000\0')
  put(148, '        ')
  put(156, '0')
  put(257, 'ustar\0')
  put(263, '00')
  put(148, `${h.reduce((a, b) => a + b, 0).toString(8).padStart(6, '0')}\0 `)
  const body = Buffer.alloc(Math.ceil(data.length / 512) * 512)
  data.copy(body)
  return gzipSync(Buffer.concat([h, body, Buffer.alloc(1024)]))
}

/** Every path under `dir` whose last component is `name`. */
function named(dir, name) {
  const out = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.name === name) out.push(p)
    if (e.isDirectory()) out.push(...named(p, name))
  }
  return out
}

describe('sourceFetchArtifact', () => {
  test('the fixture tarball lands in <cache>/artifact/sha256-<hex>, then is a hit', async () => {
    const rig = await artifacts()
    const cache = join(tempDir(), 'cache')
    const { events, onProgress } = record()
    const first = await idpkit.sourceFetchArtifact(rig.url, rig.digest, { cache, ...rig.trust, onProgress })
    assert.equal(first.path, join(cache, 'artifact', `sha256-${rig.digest.slice('sha256:'.length)}`))
    assert.ok(statSync(join(first.path, 'README.md')).isFile())
    assert.equal(first.hit, false)
    assert.equal(first.url, rig.url)
    assert.equal(first.digest, rig.digest)
    assert.equal(first.source, 'artifact')
    assert.ok(first.files > 0 && first.bytes > 0 && first.size > 0, JSON.stringify(first))
    assert.deepEqual(first.skippedSymlinks, [])
    assert.deepEqual(events, []) // no retry, no insecure host: nothing to report

    // The options-object form, the same entry.
    const second = await idpkit.sourceFetchArtifact({ url: rig.url, digest: rig.digest, cache, ...rig.trust })
    assert.equal(second.hit, true)
    assert.equal(second.path, first.path)
    assertNoSecret(JSON.stringify([first, second]), 'the fetch results')
  })

  test('a wrong digest is INTEGRITY naming the file, and nothing is cached', async () => {
    const rig = await artifacts()
    const cache = join(tempDir(), 'cache')
    const e = await rejectsWithCode(idpkit.sourceFetchArtifact(rig.url, `sha256:${'0'.repeat(64)}`, { cache, ...rig.trust }), 'INTEGRITY')
    assert.match(e.message, /fixture\.tar\.gz/)
    assert.deepEqual(await idpkit.sourceList({ cache }), [])
  })

  test('a tarball with a ../evil entry is UNSAFE_ARCHIVE, and nothing escapes the cache', async () => {
    const rig = await artifacts()
    const { url, digest } = serve(rig, 'traversal.tar.gz', gzippedTar('../evil'))
    const root = tempDir()
    const cache = join(root, 'cache')
    const e = await rejectsWithCode(idpkit.sourceFetchArtifact(url, digest, { cache, ...rig.trust }), 'UNSAFE_ARCHIVE')
    assert.ok(e.message.includes(url), e.message)
    assert.deepEqual(named(root, 'evil'), [])
    assert.deepEqual(readdirSync(root), ['cache'])
    assert.deepEqual(await idpkit.sourceList({ cache }), [])
  })

  test('an insecure host is fetched from with an insecure_connection event', async () => {
    const rig = await artifacts()
    const { events, onProgress } = record()
    const r = await idpkit.sourceFetchArtifact(rig.url, rig.digest, {
      cache: join(tempDir(), 'cache'),
      insecureHosts: [hostPort(rig.url)],
      noPlatformRoots: true,
      certsD: [],
      onProgress,
    })
    assert.ok(existsSync(join(r.path, 'README.md')))
    const audit = events.filter((e) => e.type === 'insecure_connection')
    assert.ok(audit.length > 0 && audit.every((e) => e.host.includes('127.0.0.1')), JSON.stringify(events))
  })

  test('unknown options are INVALID_INPUT naming the field', async () => {
    const rig = await artifacts()
    const cache = join(tempDir(), 'cache')
    const e = await rejectsWithCode(idpkit.sourceFetchArtifact(rig.url, rig.digest, { cache, maxDownloadBytes: 1 }), 'INVALID_INPUT')
    assert.match(e.message, /unknown field `maxDownloadBytes`/)
    assert.match(e.message, /`maxDownloadSize`/)
    const gc = await rejectsWithCode(idpkit.sourceGc({ cache, maxSize: 1 }), 'INVALID_INPUT')
    assert.match(gc.message, /`maxSize`/)
    const list = await rejectsWithCode(idpkit.sourceList({ cacheDir: cache }), 'INVALID_INPUT')
    assert.match(list.message, /`cacheDir`/)
    const d = await rejectsWithCode(idpkit.sourceFetchArtifact(rig.url, 'md5:abc', { cache, ...rig.trust }), 'INVALID_INPUT')
    assert.match(d.message, /digest/)
    assert.ok(!existsSync(join(cache, 'artifact')) || readdirSync(join(cache, 'artifact')).length === 0)
  })
})

describe('sourceList and sourceGc', () => {
  test('the entry is listed with its URL; maxBytes: 1 removes it; no rule is INVALID_INPUT', async () => {
    const rig = await artifacts()
    const cache = join(tempDir(), 'cache')
    const fetched = await idpkit.sourceFetchArtifact(rig.url, rig.digest, { cache, ...rig.trust })
    const listed = await idpkit.sourceList({ cache })
    assert.equal(listed.length, 1, JSON.stringify(listed))
    assert.equal(listed[0].url, rig.url)
    assert.equal(listed[0].path, fetched.path)
    assert.equal(listed[0].digest, rig.digest)
    assert.ok(listed[0].bytes > 0 && typeof listed[0].ageSecs === 'number' && typeof listed[0].lastUsedSecs === 'number')

    const dry = await idpkit.sourceGc({ cache, maxBytes: 1, dryRun: true })
    assert.deepEqual(dry.removed.map((e) => e.url), [rig.url])
    assert.ok(existsSync(fetched.path))

    const gc = await idpkit.sourceGc({ cache, maxBytes: 1 })
    assert.deepEqual(gc.removed.map((e) => e.url), [rig.url])
    assert.ok(gc.freedBytes > 0, JSON.stringify(gc))
    assert.equal(gc.kept, 0)
    assert.equal(gc.inUse, 0)
    assert.ok(!existsSync(fetched.path))
    assert.deepEqual(await idpkit.sourceList({ cache }), [])

    const e = await rejectsWithCode(idpkit.sourceGc({ cache }), 'INVALID_INPUT')
    assert.match(e.message, /rule/)
  })
})

describe('promises and cancellation', () => {
  test('concurrent fetches of one artifact fill it once; the others hit the same directory', async () => {
    const rig = await artifacts()
    const cache = join(tempDir(), 'cache')
    const pending = [1, 2, 3].map(() => idpkit.sourceFetchArtifact(rig.url, rig.digest, { cache, ...rig.trust }))
    assert.ok(pending.every((p) => p instanceof Promise))
    const results = await Promise.all(pending)
    assert.equal(results.filter((r) => !r.hit).length, 1, JSON.stringify(results))
    assert.equal(new Set(results.map((r) => r.path)).size, 1)
    assert.equal((await idpkit.sourceList({ cache })).length, 1)
  })

  test('an already aborted signal rejects with CANCELLED and caches nothing', async () => {
    const rig = await artifacts()
    const cache = join(tempDir(), 'cache')
    const ac = new AbortController()
    ac.abort()
    const e = await rejectsWithCode(idpkit.sourceFetchArtifact(rig.url, rig.digest, { cache, ...rig.trust, signal: ac.signal }), 'CANCELLED')
    assert.equal(e.cause, ac.signal.reason)
    assert.deepEqual(await idpkit.sourceList({ cache }), [])
  })
})

test('no rig password or token appears in an error message or event seen here', () => {
  assert.ok(seen.errors.length >= 8, `only ${seen.errors.length} errors seen`)
  for (const e of seen.errors) assertNoSecret(`${e.code} ${e.message}\n${e.stack}`, 'an error')
  for (const ev of seen.events) assertNoSecret(JSON.stringify(ev), 'an event')
})
