// login, logout and loginFromCluster against the rig (each test fails, naming the peer,
// without it). Credentials go to files under a temporary directory: REGISTRY_AUTH_FILE,
// DOCKER_CONFIG and XDG_RUNTIME_DIR point there for this whole process (node --test runs each
// file in a process of its own), so ~/.docker is never read or written.
import { test, describe, before } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { idpkit, newStore, smallContext, tempDir, rejectsWithCode, record, seen } from './helpers.mjs'
import { tlsRegistry, plainRegistry, cluster, need, assertNoSecret } from './rig.mjs'

const home = tempDir('idpkit-auth-')
const authFile = join(home, 'auth.json')
const dockerConfig = join(home, 'docker')
process.env.REGISTRY_AUTH_FILE = authFile
process.env.DOCKER_CONFIG = dockerConfig
process.env.XDG_RUNTIME_DIR = join(home, 'run')
for (const v of ['IDPKIT_REGISTRY_USERNAME', 'IDPKIT_REGISTRY_PASSWORD', 'IDPKIT_REGISTRY_TOKEN']) delete process.env[v]

const unique = (what) => `nodetest/${what}-${randomUUID().slice(0, 12)}`

/** The `auths` of a Docker-format auth file, or `{}` when there is none. */
function auths(file) {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).auths ?? {}) : {}
}

/** A new store holding a small image tagged `reference`. */
async function storeWith(reference) {
  const store = newStore()
  await store.build(smallContext({ 'id.txt': `${reference}\n` }), { tags: [reference] })
  return store
}

before(() => {
  assert.ok(!existsSync(authFile) && !existsSync(dockerConfig))
})

describe('login and logout', () => {
  test('login stores the credentials in REGISTRY_AUTH_FILE; a push without credentials then works', async () => {
    const tls = await tlsRegistry()
    const trust = { caFiles: [tls.ca] }
    const { events, onProgress } = record()
    const r = await idpkit.login(tls.host, tls.user, tls.password, { ...trust, onProgress })
    assert.deepEqual(r, { registry: tls.host, username: tls.user, storedIn: authFile })
    assert.deepEqual(Object.keys(auths(authFile)), [tls.host])
    assert.equal(statSync(authFile).mode & 0o077, 0, 'the auth file is readable by others')
    assert.ok(!existsSync(join(dockerConfig, 'config.json')))
    for (const e of events) assertNoSecret(JSON.stringify(e), 'a login event')

    const ref = `${tls.host}/${unique('login')}:1`
    const store = await storeWith(ref)
    const pushed = await store.push(ref, null, trust)
    assert.match(pushed.digest, /^sha256:/)
    assert.equal(pushed.blobsUploaded, 2)

    assert.equal(await idpkit.logout(tls.host), true)
    assert.deepEqual(auths(authFile), {})
    assert.equal(await idpkit.logout(tls.host), false)
    // Logged out: the same registry now refuses anonymous access, and says how to log in.
    const e = await rejectsWithCode(store.push(ref, `${ref}-again`, trust), 'AUTH')
    assert.ok(e.message.includes(tls.host), e.message)
    assert.match(e.message, /anonymous/)
  })

  test('without REGISTRY_AUTH_FILE, login writes $DOCKER_CONFIG/config.json', async () => {
    const tls = await tlsRegistry()
    delete process.env.REGISTRY_AUTH_FILE
    try {
      const r = await idpkit.login(`https://${tls.host}/`, tls.user, tls.password, { caFiles: [tls.ca] })
      const config = join(dockerConfig, 'config.json')
      assert.equal(r.registry, tls.host)
      assert.equal(r.storedIn, config)
      assert.deepEqual(Object.keys(auths(config)), [tls.host])
      assert.equal(statSync(config).mode & 0o077, 0)
      // catalog needs credentials on this registry: they now come from config.json.
      assert.ok(Array.isArray(await idpkit.catalog(tls.host, { caFiles: [tls.ca] })))
      assert.equal(await idpkit.logout(tls.host), true)
      assert.deepEqual(auths(config), {})
    } finally {
      process.env.REGISTRY_AUTH_FILE = authFile
    }
  })

  test('a wrong password rejects with AUTH naming the registry and user, not the password; nothing is stored', async () => {
    const tls = await tlsRegistry()
    const wrong = `wrong-${randomUUID()}`
    const e = await rejectsWithCode(idpkit.login(tls.host, tls.user, wrong, { caFiles: [tls.ca] }), 'AUTH')
    assert.ok(e.message.includes(tls.host), e.message)
    assert.ok(e.message.includes(tls.user), e.message)
    assertNoSecret(`${e.message}\n${e.stack}`, 'the login error', { 'the wrong password': wrong })
    assert.deepEqual(auths(authFile), {})
    // The real password of a user that does not exist: the password is not in the message either.
    const other = await rejectsWithCode(idpkit.login(tls.host, 'nobody-here', tls.password, { caFiles: [tls.ca] }), 'AUTH')
    assert.match(other.message, /nobody-here/)
    assertNoSecret(`${other.message}\n${other.stack}`, 'the login error')
  })

  test('an untrusted registry is UNTRUSTED, and nothing is stored', async () => {
    const tls = await tlsRegistry()
    const e = await rejectsWithCode(
      idpkit.login(tls.host, tls.user, tls.password, { noPlatformRoots: true, certsD: [], attempts: 1 }),
      'UNTRUSTED',
    )
    assert.ok(e.message.includes(tls.host), e.message)
    assertNoSecret(`${e.message}\n${e.stack}`, 'the login error')
    assert.deepEqual(auths(authFile), {})
  })

  test('bad arguments: empty credentials, credentials in the options, an aborted signal', async () => {
    await rejectsWithCode(idpkit.login('127.0.0.1:9', 'user', ''), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.login('127.0.0.1:9', '', 'secret-value'), 'INVALID_INPUT')
    const e = await rejectsWithCode(
      idpkit.login('127.0.0.1:9', 'user', 'secret-value', { username: 'other', password: 'x' }),
      'INVALID_INPUT',
    )
    assert.match(e.message, /arguments of login/)
    await rejectsWithCode(idpkit.loginFromCluster('127.0.0.1:9', {}, { token: 'abcdefgh' }), 'INVALID_INPUT')
    await rejectsWithCode(idpkit.loginFromCluster('127.0.0.1:9', { kubeConfig: '/x' }), 'INVALID_INPUT')
    // A password of the wrong type rejects (like any argument of the wrong type) without
    // quoting the value.
    for (const password of [424242, { secret: 'an-object-password' }, undefined]) {
      const err = await rejectsWithCode(idpkit.login('127.0.0.1:9', 'user', password), 'INVALID_INPUT')
      assert.match(err.message, /`password` must be a string/)
      assert.doesNotMatch(`${err.message}\n${err.stack}`, /424242|an-object-password/)
    }
    const ac = new AbortController()
    ac.abort()
    await rejectsWithCode(idpkit.login('127.0.0.1:9', 'user', 'secret-value', { signal: ac.signal }), 'CANCELLED')
    await rejectsWithCode(idpkit.loginFromCluster('127.0.0.1:9', { kubeconfig: '/nonexistent' }, { signal: ac.signal }), 'CANCELLED')
    assert.deepEqual(auths(authFile), {})
    assert.equal(await idpkit.logout('127.0.0.1:9'), false)
  })
})

describe('loginFromCluster', () => {
  test("trusting only the extracted certificate and with the cluster's credentials: push, pull, tags, copy, delete on Gitea", async () => {
    const c = await cluster()
    const certsD = tempDir('idpkit-certs-')
    const ca = await idpkit.trustExtract({ kubeconfig: c.kubeconfig, host: c.giteaRegistry, certsD })
    assert.equal(ca.path, join(certsD, c.giteaRegistry, 'ca.crt'))
    assert.deepEqual(readFileSync(ca.path), readFileSync(c.ca))
    // Only what was extracted: that certs.d, no CA files, no platform roots.
    const trust = { certsD: [certsD], noPlatformRoots: true }

    const { events, onProgress } = record()
    const r = await idpkit.loginFromCluster(c.giteaRegistry, { kubeconfig: c.kubeconfig }, { ...trust, onProgress })
    assert.deepEqual(r, { registry: c.giteaRegistry, username: c.giteaUser, storedIn: authFile })
    assert.deepEqual(Object.keys(auths(authFile)), [c.giteaRegistry])
    for (const e of events) assertNoSecret(JSON.stringify(e), 'a loginFromCluster event')

    // No credentials passed from here on: they come from the cluster login.
    const repo = `${c.giteaRegistry}/${c.giteaUser.toLowerCase()}/${unique('cluster').replace('/', '-')}`
    const ref = `${repo}:v1`
    const store = await storeWith(ref)
    const [built] = await store.images()
    const pushed = await store.push(ref, null, trust)
    assert.equal(pushed.digest, built.digest)
    assert.equal(pushed.blobsUploaded, 2)

    const pulled = await newStore().pull(ref, trust)
    assert.equal(pulled.digest, pushed.digest)
    assert.equal(pulled.blobsFetched, 2)

    assert.deepEqual(await idpkit.listTags(repo, trust), ['v1'])

    const copied = await idpkit.copy(ref, `${repo}:copy`, trust)
    assert.equal(copied.reference, `${repo}:copy`)
    assert.equal(copied.digest, pushed.digest)
    assert.equal(copied.bytesUploaded, 0, 'same repository: only the manifest moves')
    assert.deepEqual((await idpkit.listTags(repo, trust)).sort(), ['copy', 'v1'])

    // Deleting the copy deletes its manifest, and with it every tag pointing at it.
    await rejectsWithCode(idpkit.deleteManifest(`${repo}:copy`, trust), 'CONFLICT')
    assert.equal(await idpkit.deleteManifest(`${repo}:copy`, { ...trust, force: true }), pushed.digest)
    assert.deepEqual(await idpkit.listTags(repo, trust), [])
    await rejectsWithCode(newStore().pull(`${repo}:copy`, trust), 'NOT_FOUND')

    assert.equal(await idpkit.logout(c.giteaRegistry), true)
  })

  test('a kubeconfig context that does not exist is NOT_FOUND, naming it', async () => {
    const c = await cluster()
    const e = await rejectsWithCode(
      idpkit.loginFromCluster(c.giteaRegistry, { kubeconfig: c.kubeconfig, context: 'nope' }),
      'NOT_FOUND',
    )
    assert.match(e.message, /"nope"/)
    assert.deepEqual(auths(authFile), {})
  })
})

describe('credentials of one call', () => {
  test("a push to Gitea with its token: as the password of the user, or as a bearer token (which Gitea's registry refuses)", async () => {
    const c = await cluster()
    const token = need('gitea', 'GITEA_TOKEN')
    const trust = { caFiles: [c.ca], noPlatformRoots: true, certsD: [] }
    const ref = `${c.giteaRegistry}/${c.giteaUser.toLowerCase()}/${unique('token').replace('/', '-')}:v1`
    const store = await storeWith(ref)
    const { events, onProgress } = record()
    const pushed = await store.push({ source: ref, ...trust, username: c.giteaUser, password: token, onProgress })
    assert.equal(pushed.reference, ref)
    assert.equal(pushed.blobsUploaded, 2)
    assert.deepEqual(auths(authFile), {}, 'a call with credentials stores no login')
    for (const e of events) assertNoSecret(JSON.stringify(e), 'a push event')
    // Nothing stored: without the call's credentials the same registry refuses.
    await rejectsWithCode(store.push(ref, `${ref}-anonymous`, trust), 'AUTH')
    // Gitea's /v2 takes its token only through basic auth: sent as a bearer token it is AUTH,
    // and the message says a token was tried, without it.
    const e = await rejectsWithCode(store.push({ source: ref, ...trust, token, attempts: 1 }), 'AUTH')
    assert.match(e.message, /a token/)
    assertNoSecret(`${e.message}\n${e.stack}`, 'the token AUTH error')
  })

  test("a push to Gitea with a registry token Gitea issued, as a bearer token; the same call's credentials reach pull and listTags", async () => {
    const c = await cluster()
    // Issued by Gitea's /v2/token for the rig user at every tests/rig/up (it expires after a day):
    // what `skopeo --registry-token` sends.
    const token = need('gitea', 'GITEA_REGISTRY_TOKEN')
    const trust = { caFiles: [c.ca], noPlatformRoots: true, certsD: [] }
    const repo = `${c.giteaRegistry}/${c.giteaUser.toLowerCase()}/${unique('bearer').replace('/', '-')}`
    const ref = `${repo}:v1`
    const store = await storeWith(ref)
    const [built] = await store.images()
    const { events, onProgress } = record()
    const pushed = await store.push(ref, null, { ...trust, token, onProgress })
    assert.equal(pushed.reference, ref)
    assert.equal(pushed.digest, built.digest)
    assert.equal(pushed.blobsUploaded, 2)
    assert.deepEqual(auths(authFile), {}, 'a call with a token stores no login')
    for (const e of events) assertNoSecret(JSON.stringify(e), 'a push event')
    // The image is there: read back with the same token, in a store of its own.
    assert.deepEqual(await idpkit.listTags(repo, { ...trust, token }), ['v1'])
    assert.equal((await newStore().pull(ref, { ...trust, token })).digest, built.digest)
    // Without it the same registry refuses: nothing was stored.
    await rejectsWithCode(store.push(ref, `${repo}:anonymous`, trust), 'AUTH')
  })

  test("copy reads its source with the source credentials, and never sends them to the destination", async () => {
    const tls = await tlsRegistry()
    const plain = await plainRegistry()
    const src = `${tls.host}/${unique('src-creds')}:1`
    const store = await storeWith(src)
    await store.push(src, null, { caFiles: [tls.ca], username: tls.user, password: tls.password })
    const dst = `${plain}/${unique('src-creds')}:copied`
    // Anonymous on the source: AUTH naming the source registry.
    const e = await rejectsWithCode(idpkit.copy(src, dst, { caFiles: [tls.ca] }), 'AUTH')
    assert.ok(e.message.includes(tls.host), e.message)
    const r = await idpkit.copy(src, dst, { caFiles: [tls.ca], sourceUsername: tls.user, sourcePassword: tls.password })
    assert.equal(r.reference, dst)
    assert.equal(r.blobsUploaded, 2)
    assert.equal((await newStore().pull(dst)).digest, (await store.images())[0].digest)
  })
})

test('no rig password or token appears in an error message or event seen here', () => {
  assert.ok(seen.errors.length >= 10, `only ${seen.errors.length} errors seen`)
  for (const e of seen.errors) assertNoSecret(`${e.code} ${e.message}\n${e.stack}`, 'an error')
  for (const ev of seen.events) assertNoSecret(JSON.stringify(ev), 'an event')
})
