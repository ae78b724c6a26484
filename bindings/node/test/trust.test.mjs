// trustCheck, trustAdd and trustExtract against the rig's TLS peers and kube-apiserver (each test
// fails, naming the peer, without them). Nothing is installed outside temporary directories.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { X509Certificate, randomUUID } from 'node:crypto'
import { idpkit, newStore, smallContext, tempDir, rejectsWithCode, seen } from './helpers.mjs'
import { tlsRegistry, plainRegistry, cluster, requirePeers, need, needFile, hostPort, assertNoSecret } from './rig.mjs'

const SHA256 = /^sha256:[0-9a-f]{64}$/

/** Trust only what the test names: no platform roots, no certs.d but `certsD`. */
const only = (opts = {}) => ({ noPlatformRoots: true, certsD: [], ...opts })

describe('trustCheck', () => {
  test('the TLS registry with the rig CA is trusted, and the chain is reported leaf first', async () => {
    const tls = await tlsRegistry()
    const r = await idpkit.trustCheck(tls.host, only({ caFiles: [tls.ca] }))
    assert.equal(r.host, tls.host)
    assert.equal(r.verdict, 'trusted')
    assert.equal(r.trusted, true)
    assert.equal(r.insecure, false)
    assert.equal(r.message, '')
    assert.ok(r.chain.length >= 1, JSON.stringify(r))
    const [leaf] = r.chain
    assert.ok(leaf.names.includes('127.0.0.1'), leaf.names.join(','))
    assert.match(leaf.sha256, SHA256)
    assert.equal(leaf.selfSigned, false)
    assert.match(leaf.subject, /CN=/)
    assert.equal(typeof leaf.notBefore, 'string')
    assert.equal(typeof leaf.notAfter, 'string')
    assert.equal(leaf.not_after, undefined)
    assert.ok(r.sources.some((s) => s.includes(tls.ca)), r.sources.join('; '))
  })

  test('without the rig CA the issuer is unknown; the report says how to fix it and does not reject', async () => {
    const tls = await tlsRegistry()
    const r = await idpkit.trustCheck(tls.host, only())
    assert.equal(r.verdict, 'unknown_issuer')
    assert.equal(r.trusted, false)
    assert.ok(r.chain.length >= 1)
    assert.ok(r.message.includes(tls.host), r.message)
    assert.match(r.message, /trust add/)
    // Marked insecure: still verified, and reported as insecure.
    const insecure = await idpkit.trustCheck(tls.host, only({ insecureHosts: [tls.host] }))
    assert.equal(insecure.verdict, 'unknown_issuer')
    assert.equal(insecure.insecure, true)
  })

  test("the expired URL's host gives the expired verdict", async () => {
    await requirePeers('nginx')
    const host = hostPort(need('nginx', 'TLS_EXPIRED_URL'))
    const r = await idpkit.trustCheck(host, only({ caFiles: [needFile('nginx', 'CA')] }))
    assert.equal(r.verdict, 'expired', r.message)
    assert.equal(r.trusted, false)
    assert.match(r.message, /expired/)
    assert.ok(r.message.includes(r.chain[0].notAfter), r.message)
  })

  test("the wrong-host URL's host gives the wrong_host verdict", async () => {
    await requirePeers('nginx')
    const host = hostPort(need('nginx', 'TLS_WRONGHOST_URL'))
    const r = await idpkit.trustCheck(host, only({ caFiles: [needFile('nginx', 'CA')] }))
    assert.equal(r.verdict, 'wrong_host', r.message)
    assert.ok(r.chain[0].names.length > 0)
    assert.ok(!r.chain[0].names.includes('127.0.0.1'))
  })

  test('a plain-HTTP port is not_tls and a closed port unreachable (both resolve)', async () => {
    const plain = await plainRegistry()
    assert.equal((await idpkit.trustCheck(plain, only())).verdict, 'not_tls')
    const closed = await idpkit.trustCheck('127.0.0.1:9', only())
    assert.equal(closed.verdict, 'unreachable')
    assert.deepEqual(closed.chain, [])
  })

  test('bad options and hosts are INVALID_INPUT', async () => {
    const e = await rejectsWithCode(idpkit.trustCheck('127.0.0.1:9', { caFile: 'x' }), 'INVALID_INPUT')
    assert.match(e.message, /unknown field `caFile`/)
    assert.match(e.message, /`caFiles`/)
    await rejectsWithCode(idpkit.trustCheck('127.0.0.1:9', { noPlatformRoots: 'yes' }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.trustCheck('127.0.0.1:9', { onProgress: () => {} }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.trustCheck('127.0.0.1:9', 3), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.trustCheck('bad host name:1', only()), 'INVALID_INPUT')
    const notPem = join(tempDir(), 'not.pem')
    writeFileSync(notPem, 'not a certificate\n')
    await rejectsWithCode(idpkit.trustCheck('127.0.0.1:9', { caFiles: [notPem] }), 'INVALID_INPUT')
  })
})

describe('trustAdd', () => {
  test('installs ca.crt into the given certsD, where trustCheck then finds it', async () => {
    const tls = await tlsRegistry()
    const certsD = tempDir('idpkit-certs-')
    const path = await idpkit.trustAdd(tls.host, tls.ca, { certsD })
    assert.equal(path, join(certsD, tls.host, 'ca.crt'))
    assert.deepEqual(readFileSync(path), readFileSync(tls.ca))
    const r = await idpkit.trustCheck(tls.host, only({ certsD: [certsD] }))
    assert.equal(r.verdict, 'trusted', r.message)
    assert.ok(r.sources.some((s) => s.includes(path)), r.sources.join('; '))
    // Installing again replaces the file.
    assert.equal(await idpkit.trustAdd(tls.host, tls.ca, { certsD }), path)
  })

  test('a file that is not a PEM certificate, a bad host and bad options are refused', async () => {
    const certsD = tempDir('idpkit-certs-')
    const notPem = join(tempDir(), 'not.pem')
    writeFileSync(notPem, 'not a certificate\n')
    const e = await rejectsWithCode(idpkit.trustAdd('registry.test:5000', notPem, { certsD }), 'INVALID_INPUT')
    assert.ok(e.message.includes(notPem), e.message)
    const ca = needFile('registry-tls', 'CA')
    await rejectsWithCode(idpkit.trustAdd('a/b', ca, { certsD }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.trustAdd('../x', ca, { certsD }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.trustAdd('registry.test', ca, { certs_d: certsD }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.trustAdd('registry.test', ca, { certsD: 1 }), 'INVALID_INPUT')
    const missing = await rejectsWithCode(idpkit.trustAdd('registry.test', join(certsD, 'missing.pem'), { certsD }), 'NOT_FOUND')
    assert.match(missing.message, /missing\.pem/)
  })
})

describe('trustExtract', () => {
  test("Gitea's self-signed certificate is untrusted until trustExtract installs it from the cluster, then trusted as a trust anchor", async () => {
    const c = await cluster()
    const giteaCert = readFileSync(c.ca)
    const giteaSha256 = `sha256:${new X509Certificate(giteaCert).fingerprint256.replaceAll(':', '').toLowerCase()}`

    // Before extraction, with no trust anchor at all: not trusted, the report says it is
    // self-signed, and a push is refused with UNTRUSTED.
    const before = await idpkit.trustCheck(c.giteaRegistry, only())
    assert.equal(before.trusted, false)
    assert.equal(before.verdict, 'unknown_issuer', before.message)
    assert.match(before.message, /self-signed/)
    assert.ok(before.message.includes(c.giteaRegistry), before.message)
    assert.equal(before.chain[0].sha256, giteaSha256, 'Gitea serves the certificate IDPKIT_RIG_GITEA_CA holds')
    assert.equal(before.chain[0].selfSigned, true)
    const ref = `${c.giteaRegistry}/${c.giteaUser.toLowerCase()}/nodetest-untrusted-${randomUUID().slice(0, 12)}:v1`
    const store = newStore()
    await store.build(smallContext(), { tags: [ref] })
    const e = await rejectsWithCode(store.push(ref, null, only({ attempts: 1 })), 'UNTRUSTED')
    assert.ok(e.message.includes(c.giteaRegistry), e.message)

    const certsD = tempDir('idpkit-certs-')
    const r = await idpkit.trustExtract({ kubeconfig: c.kubeconfig, host: c.giteaRegistry, certsD })
    assert.equal(r.host, c.giteaRegistry)
    assert.equal(r.source, 'default/idpbuilder-cert ca.crt')
    assert.equal(r.path, join(certsD, c.giteaRegistry, 'ca.crt'))
    assert.deepEqual(readFileSync(r.path), giteaCert)
    assert.equal(r.subject, before.chain[0].subject)
    assert.match(r.subject, /cnoe\.io/)
    assert.equal(typeof r.notAfter, 'string')

    // What it installed, and only that, is what the Gitea host is then trusted with.
    const after = await idpkit.trustCheck(c.giteaRegistry, only({ certsD: [certsD] }))
    assert.equal(after.verdict, 'trusted', after.message)
    assert.equal(after.trusted, true)
    assert.match(after.message, /one of your trust anchors/)
    assert.ok(after.sources.some((s) => s.includes(r.path)), after.sources.join('; '))
  })

  test('a context that does not exist is NOT_FOUND naming it; a missing kubeconfig names the file', async () => {
    const c = await cluster()
    const certsD = tempDir('idpkit-certs-')
    const e = await rejectsWithCode(idpkit.trustExtract({ kubeconfig: c.kubeconfig, context: 'nope', certsD }), 'NOT_FOUND')
    assert.match(e.message, /"nope"/)
    const missing = join(certsD, 'no-kubeconfig')
    const m = await rejectsWithCode(idpkit.trustExtract({ kubeconfig: missing, certsD }), 'NOT_FOUND')
    assert.ok(m.message.includes(missing), m.message)
  })

  test('bad options are INVALID_INPUT, naming the option in camelCase', async () => {
    const e = await rejectsWithCode(idpkit.trustExtract({ kubeConfig: '/x' }), 'INVALID_INPUT')
    assert.match(e.message, /unknown field `kubeConfig`/)
    assert.match(e.message, /`kubeconfig`/)
    assert.match(e.message, /`certsD`/)
    await rejectsWithCode(idpkit.trustExtract({ host: 7 }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.trustExtract('kubeconfig'), 'INVALID_INPUT')
  })
})

test('no rig password or token appears in an error message seen here', () => {
  assert.ok(seen.errors.length >= 10, `only ${seen.errors.length} errors seen`)
  for (const e of seen.errors) assertNoSecret(`${e.code} ${e.message}\n${e.stack}`, 'an error')
})

describe('cancellation', () => {
  test('an aborted signal stops trustCheck of a silent host at once, and trustExtract before it starts', async () => {
    // A host that accepts the connection and never answers the handshake: without the
    // signal trustCheck would wait out its 10 s timeout.
    const { createServer } = await import('node:net')
    const held = []
    const silent = createServer((conn) => held.push(conn))
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const start = Date.now()
      await rejectsWithCode(
        idpkit.trustCheck(`127.0.0.1:${silent.address().port}`, { signal: AbortSignal.timeout(300) }),
        'CANCELLED',
      )
      assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`)
    } finally {
      held.forEach((c) => c.destroy())
      silent.close()
    }
    const dir = tempDir()
    const aborted = AbortSignal.abort()
    await rejectsWithCode(
      idpkit.trustExtract({ kubeconfig: join(dir, 'none'), certsD: join(dir, 'certs.d'), signal: aborted }),
      'CANCELLED',
    )
    await rejectsWithCode(idpkit.loginFromCluster('x.example', { signal: aborted }), 'INVALID_INPUT')
  })
})
