// The generated surface against the call contract (contract/idpkit.json): every operation is
// callable, every option a user sets in camelCase arrives in the core (resolveOptions shows
// what the core would run with), credentials never travel in the options document, and the
// one key conversion of runtime.js. No rig peer needed.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { idpkit, newStore, smallContext, tempDir, rejectsWithCode } from './helpers.mjs'

const require = createRequire(import.meta.url)
const runtime = require('../runtime.js')
const here = import.meta.dirname
const contract = JSON.parse(readFileSync(join(here, '..', '..', '..', 'contract', 'idpkit.json'), 'utf8'))
const camel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())
const operation = (name) => contract.operations.find((o) => o.name === name)

/** A value of the field's type that differs from its default `d`. */
function changed(name, d, schema) {
  const types = [].concat(schema.type)
  if (typeof d === 'boolean') return !d
  if (typeof d === 'number') return d + 7
  if (Array.isArray(d) || types.includes('array')) return [`/nodetest/${name}`]
  if (types.includes('integer')) return 7
  if (types.includes('string')) return name === 'platform' ? 'linux/arm64' : `nodetest-${name}`
  throw new Error(`no value for ${name}: ${JSON.stringify(schema)}`)
}

describe('the contract', () => {
  test('every operation is a function of the module or a method of Store', () => {
    const names = { delete: 'deleteManifest', import: 'importLayout' }
    for (const op of contract.operations) {
      const js = names[op.name] ?? camel(op.name)
      const fn = op.needs_store ? idpkit.Store.prototype[js] : idpkit[js]
      assert.equal(typeof fn, 'function', `${op.name} has no ${op.needs_store ? 'Store method' : 'function'} ${js}`)
    }
    assert.equal(idpkit.extractCa, idpkit.trustExtract, 'the deprecated name is the same function')
  })

  test('every RegistryOptions field set in camelCase arrives in the core', async () => {
    // The registry fields: push's defaults without its own `source` and `destination`.
    const defaults = { ...operation('push').defaults }
    delete defaults.source
    delete defaults.destination
    const props = contract.$defs.RegistryOptions.properties
    assert.deepEqual(Object.keys(defaults).sort(), Object.keys(props).sort())
    const options = {}
    const expected = {}
    for (const [field, d] of Object.entries(defaults)) {
      const v = changed(field, d, props[field])
      assert.notDeepEqual(v, d, field)
      options[camel(field)] = v
      expected[camel(field)] = v
    }
    const resolved = await idpkit.resolveOptions({ operation: 'push', options: { source: 'a:1', ...options } })
    for (const [key, v] of Object.entries(expected)) assert.deepEqual(resolved[key], v, `${key} did not arrive`)
    assert.equal(resolved.source, 'a:1')
    assert.equal(resolved.destination, null)
    // Through build's nested `pull` too.
    const build = await idpkit.resolveOptions({ operation: 'build', options: { pull: options, sourceDateEpoch: 5_000_000_000 } })
    assert.deepEqual(build.pull, expected)
    assert.equal(build.sourceDateEpoch, 5_000_000_000)
  })

  test('an unknown field is INVALID_INPUT naming it and the allowed ones, at any depth and in every form', async () => {
    const e = await rejectsWithCode(idpkit.resolveOptions({ operation: 'push', options: { mountFrm: ['x'] } }), 'INVALID_INPUT')
    assert.match(e.message, /unknown field `mountFrm`/)
    assert.match(e.message, /`mountFrom`/)
    const store = newStore()
    const p = await rejectsWithCode(store.push({ source: 'a:1', destinaton: 'b:1' }), 'INVALID_INPUT')
    assert.match(p.message, /unknown field `destinaton`/)
    assert.match(p.message, /`destination`/)
    const nested = await rejectsWithCode(store.build(smallContext(), { pull: { caFilez: [] } }), 'INVALID_INPUT')
    assert.match(nested.message, /option `pull`: unknown field `caFilez`/)
    assert.match(nested.message, /`caFiles`/)
    const cluster = await rejectsWithCode(idpkit.loginFromCluster({ host: 'x.example', cluster: { kubeConfig: '/x' } }), 'INVALID_INPUT')
    assert.match(cluster.message, /option `cluster`: unknown field `kubeConfig`/)
    assert.match(cluster.message, /`kubeconfig`/)
    // The core's snake_case spelling is not an alias of the documented camelCase one.
    const snakeKey = await rejectsWithCode(idpkit.listTags('127.0.0.1:9/a', { ca_files: ['x'] }), 'INVALID_INPUT')
    assert.match(snakeKey.message, /`ca_files`/)
    assert.match(snakeKey.message, /`caFiles`/)
    // A wrong type names the field the way it was written, nested too.
    const typed = await rejectsWithCode(store.build(smallContext(), { pull: { noPlatformRoots: 'yes' } }), 'INVALID_INPUT')
    assert.match(typed.message, /`pull\.noPlatformRoots`/)
  })

  test('credentials go beside the options document, never in it', async () => {
    const calls = []
    const real = runtime.native.call
    runtime.native.call = (...args) => {
      calls.push(args)
      return real(...args)
    }
    try {
      const secret = 'hunter2-not-in-options'
      await rejectsWithCode(idpkit.catalog('127.0.0.1:9', { username: 'u', password: secret, attempts: 1 }), 'NETWORK')
      await rejectsWithCode(
        idpkit.copy('127.0.0.1:9/a:1', '127.0.0.1:9/b:1', { token: 'tok-12345678', sourceUsername: 'su', sourcePassword: secret, attempts: 1 }),
        'NETWORK',
      )
      const [[op, , json, credentials], [, , copyJson, copyCredentials]] = calls
      assert.equal(op, 'catalog')
      assert.deepEqual(JSON.parse(json), { host: '127.0.0.1:9', attempts: 1 })
      assert.deepEqual(credentials, { username: 'u', password: secret })
      assert.deepEqual(JSON.parse(copyJson), { source: '127.0.0.1:9/a:1', destination: '127.0.0.1:9/b:1', attempts: 1 })
      assert.deepEqual(copyCredentials, { token: 'tok-12345678', sourceUsername: 'su', sourcePassword: secret })
    } finally {
      runtime.native.call = real
    }
    // Only copy has a source registry; loginFromCluster takes its credentials from the cluster.
    const e = await rejectsWithCode(idpkit.catalog('127.0.0.1:9', { sourceToken: 'abcdefgh' }), 'INVALID_INPUT')
    assert.match(e.message, /`sourceToken` is not an option of catalog/)
    await rejectsWithCode(idpkit.copy('127.0.0.1:9/a:1', '127.0.0.1:9/b:1', { sourceUsername: 'u' }), 'INVALID_INPUT')
  })

  test('the options-object form of each positional call gives the same result', async () => {
    const store = newStore()
    const ctx = smallContext()
    const a = await store.build(ctx, { tags: ['app:1'] })
    const b = await store.build({ context: ctx, tags: ['app:2'] })
    assert.equal(b.digest, a.digest)
    assert.equal((await store.tag({ source: 'app:1', target: 'app:3' })).digest, a.digest)
    assert.equal((await store.inspect({ reference: 'app:3' })).digest, a.digest)
    const layout = join(tempDir(), 'layout')
    assert.equal((await store.export({ reference: 'app:1', layout, tag: 'one' })).reference, 'one')
    const imported = await newStore().importLayout({ layout, tag: 'one', name: 'team/app:imported' })
    assert.deepEqual(imported.map((i) => i.reference), ['docker.io/team/app:imported'])
    assert.deepEqual(await store.remove({ reference: 'app:3' }), ['docker.io/library/app:3'])
    // An argument given twice is refused rather than one of them silently winning.
    const e = await rejectsWithCode(store.tag('app:1', 'app:4', { target: 'app:5' }), 'INVALID_INPUT')
    assert.match(e.message, /`target` is one of the arguments of tag/)
  })
})

describe('key conversion (runtime.js)', () => {
  test('round-trips field names', () => {
    assert.deepEqual(runtime.fromJs({ noCache: true, sourceDateEpoch: 1, tags: [], pull: { caFiles: ['x'] } }, ''), {
      no_cache: true,
      source_date_epoch: 1,
      tags: [],
      pull: { ca_files: ['x'] },
    })
    assert.deepEqual(runtime.toJs({ diff_id: 'd', media_type: 'm', sha256: 's' }), { diffId: 'd', mediaType: 'm', sha256: 's' })
  })

  test('leaves data maps and OCI documents alone', () => {
    const js = { env: { lower_case: 'x', APP_MODE: 'y' }, labels: { 'org.x.team_name': 'p' }, annotations: { a_b: 'c' } }
    assert.deepEqual(runtime.fromJs(js, ''), js)
    const core = {
      config_digest: 'sha256:1',
      layer: { diff_id: 'sha256:2', media_type: 'm' },
      labels: { my_label: 'x' },
      config: { config: { Env: ['A_B=1'] }, rootfs: { diff_ids: [] } },
      index: { schemaVersion: 2, manifests: [{ mediaType: 'm', platform: { 'os.version': '10' } }] },
      index_digest: 'sha256:3',
    }
    assert.deepEqual(runtime.toJs(core), {
      configDigest: 'sha256:1',
      layer: { diffId: 'sha256:2', mediaType: 'm' },
      labels: { my_label: 'x' },
      config: { config: { Env: ['A_B=1'] }, rootfs: { diff_ids: [] } },
      index: { schemaVersion: 2, manifests: [{ mediaType: 'm', platform: { 'os.version': '10' } }] },
      indexDigest: 'sha256:3',
    })
  })

  test("names fields in the core's messages in camelCase, never values", () => {
    assert.equal(
      runtime.camelMessage('options: unknown field `no_cach`; expected one of `context`, `no_cache`'),
      'options: unknown field `noCach`; expected one of `context`, `noCache`',
    )
    assert.equal(runtime.camelMessage('options.pull.ca_files[0]: expected string, got integer'), 'option `pull.caFiles[0]`: expected string, got integer')
    assert.equal(runtime.camelMessage('options.env.MY_VAR: expected string, got integer'), 'option `env.MY_VAR`: expected string, got integer')
    assert.equal(
      runtime.camelMessage('options field `compression`: unknown variant `not_tls`, expected `gzip` or `zstd`'),
      'option `compression`: unknown variant `not_tls`, expected `gzip` or `zstd`',
    )
  })
})
