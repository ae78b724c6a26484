// Watching a Flux source (each test fails, naming the peer, without the rig): a GitRepository
// this test creates in the rig's kube-apiserver, its status set as source-controller sets it
// (the fixture's tarball, then one this test serves from the rig's nginx). watchFlux is an
// async iterator of the revisions (`break` aborts the watch); sourceWatchFlux resolves with
// the summary when its signal is aborted.
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import { createHash, randomUUID } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { idpkit, tempDir } from './helpers.mjs'
import { need, needFile, requirePeers } from './rig.mjs'

const served = []
after(() => served.forEach((p) => rmSync(p, { force: true })))

const FLUX = '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/'

/** A PATCH to the rig's kube-apiserver with its static token, trusting the rig CA. */
function patch(path, contentType, body) {
  const url = new URL(path, need('kube-apiserver', 'KUBE_URL'))
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PATCH',
        ca: readFileSync(needFile('kube-apiserver', 'CA')),
        headers: { 'content-type': contentType, authorization: `Bearer ${need('kube-apiserver', 'KUBE_TOKEN')}` },
        timeout: 30000,
      },
      (res) => {
        let text = ''
        res.on('data', (c) => (text += c))
        res.on('end', () => (res.statusCode < 300 ? resolve() : reject(new Error(`PATCH ${path}: ${res.statusCode} ${text}`))))
      },
    )
    req.on('timeout', () => req.destroy(new Error(`PATCH ${path}: no answer within 30 s`)))
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

/** GitRepository flux-system/`name`, Ready with its artifact at `url`. */
async function ready(name, url, revision, digest) {
  await patch(`${FLUX}${name}?fieldManager=idpkit-node-test&force=true`, 'application/apply-patch+yaml', {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: 'flux-system' },
    spec: { url: 'https://example.invalid/x.git' },
  })
  await patch(`${FLUX}${name}/status`, 'application/merge-patch+json', {
    status: {
      artifact: { url, revision, digest },
      conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'stored', lastTransitionTime: '2026-12-03T00:00:00Z' }],
    },
  })
}

/** A gzipped ustar archive of `b.txt` holding `data`, served by the rig's nginx: URL and digest. */
function serve(name, data) {
  const h = Buffer.alloc(512)
  const put = (off, s) => h.write(s, off, 'latin1')
  put(0, 'b.txt')
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
  const bytes = gzipSync(Buffer.concat([h, body, Buffer.alloc(1024)]))
  const url = need('nginx', 'ARTIFACT_URL')
  const dir = join(need('nginx', 'DIR'), 'artifacts')
  const file = `${name}.tar.gz`
  writeFileSync(join(dir, `.${file}.tmp`), bytes)
  renameSync(join(dir, `.${file}.tmp`), join(dir, file))
  served.push(join(dir, file))
  return { url: url.slice(0, url.lastIndexOf('/') + 1) + file, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` }
}

async function source() {
  await requirePeers('kube-apiserver', 'nginx')
  const name = `node-watch-${process.pid}-${randomUUID().slice(0, 8)}`
  const a = { url: need('nginx', 'ARTIFACT_URL'), revision: `main@sha1:${'a'.repeat(40)}`, digest: `sha256:${need('nginx', 'ARTIFACT_SHA256')}` }
  await ready(name, a.url, a.revision, a.digest)
  const options = {
    cache: join(tempDir(), 'cache'),
    cluster: { kubeconfig: needFile('kube-apiserver', 'KUBECONFIG') },
    caFiles: [needFile('nginx', 'CA')],
    noPlatformRoots: true,
    certsD: [],
  }
  return { name, a, options }
}

describe('watchFlux', () => {
  test('yields the revision, then the next one; break aborts the watch', async () => {
    const { name, a, options } = await source()
    const b = { ...serve(name, Buffer.from('revision b')), revision: `main@sha1:${'b'.repeat(40)}` }
    // The bound of the whole test: a watch that never yields ends when this fires.
    const guard = AbortSignal.timeout(60000)
    const seen = []
    const events = []
    for await (const fetched of idpkit.watchFlux('GitRepository', 'flux-system', name, { ...options, signal: guard, onProgress: (e) => events.push(e.type) })) {
      seen.push(fetched)
      if (seen.length === 1) await ready(name, b.url, b.revision, b.digest)
      else break
    }
    assert.equal(guard.aborted, false, 'the guard fired before two revisions')
    assert.deepEqual(
      seen.map((f) => f.revision),
      [a.revision, b.revision],
    )
    assert.equal(seen[0].path, join(options.cache, 'flux-artifact', 'flux-system', name, 'main-sha-aaaaaaa'))
    assert.equal(seen[0].hit, false)
    assert.equal(seen[0].type, undefined, 'the payload, not the event')
    assert.deepEqual(seen[0].skippedSymlinks, [])
    assert.ok(statSync(join(seen[0].path, 'README.md')).isFile())
    assert.equal(readFileSync(join(seen[1].path, 'b.txt'), 'utf8'), 'revision b')
    assert.deepEqual(events, ['source_fetched', 'source_fetched'])
  })

  test('sourceWatchFlux reports revisions to onProgress and resolves with its summary on abort', async () => {
    const { name, a, options } = await source()
    const controller = new AbortController()
    const guard = setTimeout(() => controller.abort(new Error('no revision within 60 s')), 60000)
    const revisions = []
    try {
      const r = await idpkit.sourceWatchFlux('GitRepository', 'flux-system', name, {
        ...options,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.type !== 'source_fetched') return
          revisions.push(e.revision)
          controller.abort()
        },
      })
      assert.deepEqual(revisions, [a.revision])
      assert.equal(r.fetched, 1)
      assert.equal(r.failed, 0)
      assert.equal(r.last.revision, a.revision)
    } finally {
      clearTimeout(guard)
    }
  })
})
