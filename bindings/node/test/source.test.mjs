// GitOps sources against the rig's nginx (each test fails, naming the peer, without it):
// sourceFetchArtifact of the fixture's tarball into a temporary cache trusting only the rig CA,
// then a hit; a wrong digest; a hostile tarball this test serves from the rig's artifacts
// directory; sourceList and sourceGc; option checks; promises run concurrently; AbortSignal.
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createHash, randomUUID } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { idpkit, tempDir, rejectsWithCode, record, seen } from './helpers.mjs'
import { need, needFile, hostPort, assertNoSecret, requirePeers, kubeApply } from './rig.mjs'
import { connect } from 'node:net'
import { execFileSync } from 'node:child_process'

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

// ---- git and Argo CD sources: the rig's git over HTTPS, its kube-apiserver ----

/** The rig's git http-backend behind nginx (basic auth, a certificate from the rig CA) and its fixture repository. */
async function gitRig() {
  const url = need('nginx', 'GIT_FIXTURE_HTTPS')
  await requirePeers('nginx')
  const gitDir = need('nginx', 'GIT_FIXTURE_DIR')
  return {
    url,
    user: need('nginx', 'GIT_USER'),
    password: need('nginx', 'GIT_PASSWORD'),
    // The rig's CA and nothing else: no platform roots, no certs.d.
    trust: { caFiles: [needFile('nginx', 'CA')], noPlatformRoots: true, certsD: [] },
    commit: (rev) => execFileSync('git', ['--git-dir', gitDir, 'rev-parse', `${rev}^{commit}`], { encoding: 'utf8' }).trim(),
  }
}

/** The first file under `root` holding `needle`: what someone reading the cache from the disk would find. */
function fileHolding(root, needle) {
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name)
    if (e.isDirectory()) {
      const found = fileHolding(p, needle)
      if (found) return found
    } else if (e.isFile() && readFileSync(p).includes(needle)) {
      return p
    }
  }
  return null
}

describe('sourceFetchGit and sourceFetchArgo', () => {
  test('git over HTTPS with a username and password lands in <cache>/git/<hash>, then is a hit', async () => {
    const rig = await gitRig()
    const cache = join(tempDir(), 'cache')
    const creds = { username: rig.user, password: rig.password }
    const first = await idpkit.sourceFetchGit(rig.url, 'develop', { cache, ...creds, ...rig.trust })
    assert.equal(first.hit, false)
    assert.equal(dirname(first.path), join(cache, 'git'))
    assert.ok(statSync(join(first.path, 'DEVELOP.md')).isFile())
    assert.equal(first.source, 'git')
    assert.equal(first.url, rig.url)
    assert.equal(first.revision, `refs/heads/develop@sha1:${rig.commit('develop')}`)
    assert.ok(first.files > 0, JSON.stringify(first))

    // The options-object form, the same entry.
    const second = await idpkit.sourceFetchGit({ url: rig.url, revision: 'develop', cache, ...creds, ...rig.trust })
    assert.equal(second.hit, true)
    assert.equal(second.path, first.path)
    assert.equal(fileHolding(cache, rig.password), null, 'the password is on disk')
    assertNoSecret(JSON.stringify([first, second]), 'the fetch results')
  })

  test('a wrong password is AUTH naming the URL, without the password, and nothing is cached', async () => {
    const rig = await gitRig()
    const cache = join(tempDir(), 'cache')
    const wrong = 'pw-wrong-node-4711'
    const e = await rejectsWithCode(
      idpkit.sourceFetchGit(rig.url, 'main', { cache, username: rig.user, password: wrong, ...rig.trust }),
      'AUTH',
    )
    assert.ok(e.message.includes(rig.url), e.message)
    assertNoSecret(`${e.code} ${e.message}\n${e.stack}`, 'the AUTH error', { wrong })
    assert.deepEqual(await idpkit.sourceList({ cache }), [])
  })

  test('an Argo CD Application gives its git source directory and skips its Helm source', async () => {
    const rig = await gitRig()
    const kubeconfig = needFile('kube-apiserver', 'KUBECONFIG')
    // A namespace of this test standing for Argo CD's, holding a `repository` Secret.
    const ns = `argocd-node-${process.pid}`
    const app = `node-argo-${process.pid}-${randomUUID().slice(0, 6)}`
    await kubeApply(`/api/v1/namespaces/${ns}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })
    await kubeApply(`/api/v1/namespaces/${ns}/secrets/fixture`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'fixture', namespace: ns, labels: { 'argocd.argoproj.io/secret-type': 'repository' } },
      stringData: { url: rig.url, username: rig.user, password: rig.password },
    })
    await kubeApply(`/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${app}`, {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: app, namespace: 'argocd' },
      spec: {
        project: 'default',
        sources: [
          { repoURL: rig.url, path: 'log', targetRevision: 'main' },
          { repoURL: 'https://charts.example.invalid', chart: 'nginx', targetRevision: '1.0.0' },
        ],
        destination: { server: 'https://kubernetes.default.svc', namespace: 'x' },
      },
    })

    const cache = join(tempDir(), 'cache')
    const { events, onProgress } = record()
    const opts = { cluster: { kubeconfig }, argocdNamespace: ns, cache, ...rig.trust }
    const got = await idpkit.sourceFetchArgo('argocd', app, { ...opts, onProgress })
    assert.equal(got.application, `Application argocd/${app}`)
    assert.equal(got.sources.length, 2, JSON.stringify(got))
    const [git, helm] = got.sources
    assert.equal(git.index, 0)
    assert.equal(git.repoUrl, rig.url)
    assert.equal(git.path, 'log')
    assert.equal(git.commit, rig.commit('main'))
    assert.equal(git.credentials, `Secret ${ns}/fixture (repository)`)
    assert.equal(git.fetched.hit, false)
    assert.equal(dirname(git.fetched.path), join(cache, 'argocd-repo', 'argocd', app))
    assert.equal(git.dir, join(git.fetched.path, 'log'))
    assert.ok(statSync(join(git.dir, '001.txt')).isFile())
    assert.equal(helm.index, 1)
    assert.equal(helm.fetched, null)
    assert.equal(helm.dir, null)
    assert.match(helm.skipped, /Helm/)
    assert.ok(
      events.some((e) => e.type === 'warning' && e.message.includes('charts.example.invalid')),
      JSON.stringify(events),
    )

    // The options-object form, a hit on the same directory.
    const again = await idpkit.sourceFetchArgo({ namespace: 'argocd', name: app, ...opts })
    assert.equal(again.sources[0].fetched.hit, true)
    assert.equal(again.sources[0].dir, git.dir)
    assert.equal(fileHolding(cache, rig.password), null, "the Secret's password is on disk")
    assertNoSecret(JSON.stringify([got, again, events]), 'the Argo CD results and events')
  })
})

describe('watchArgo', () => {
  test('yields the synced revision, then the next one Argo CD writes; break aborts the watch', async () => {
    const rig = await gitRig()
    const kubeconfig = needFile('kube-apiserver', 'KUBECONFIG')
    const ns = `argocd-nodew-${process.pid}`
    const app = `node-watch-argo-${process.pid}-${randomUUID().slice(0, 6)}`
    await kubeApply(`/api/v1/namespaces/${ns}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })
    await kubeApply(`/api/v1/namespaces/${ns}/secrets/fixture`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'fixture', namespace: ns, labels: { 'argocd.argoproj.io/secret-type': 'repository' } },
      stringData: { url: rig.url, username: rig.user, password: rig.password },
    })
    const synced = (revision) =>
      kubeApply(`/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${app}`, {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: app, namespace: 'argocd' },
        spec: {
          project: 'default',
          source: { repoURL: rig.url, targetRevision: 'main' },
          destination: { server: 'https://kubernetes.default.svc', namespace: 'x' },
        },
        status: { sync: { revision } },
      })
    const develop = rig.commit('develop')
    const main = rig.commit('main')
    await synced(develop)
    const seen = []
    const guard = AbortSignal.timeout(60_000)
    const opts = { cluster: { kubeconfig }, argocdNamespace: ns, cache: join(tempDir(), 'cache'), ...rig.trust, signal: guard }
    for await (const fetched of idpkit.watchArgo('argocd', app, opts)) {
      seen.push(fetched)
      if (seen.length === 1) await synced(main)
      else break
    }
    assert.deepEqual(
      seen.map((f) => f.revision.split(':').pop()),
      [develop, main],
    )
    assert.notEqual(seen[0].path, seen[1].path)
  })
})
