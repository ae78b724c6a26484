// Every public function of the Store, its result shapes and its error codes.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { idpkit, newStore, smallContext, tempDir, rejectsWithCode, gzipLayerEntries } from './helpers.mjs'

const DIGEST = /^sha256:[0-9a-f]{64}$/

describe('module', () => {
  test('an argument of the wrong type rejects with INVALID_INPUT naming it, never throws', async () => {
    const store = newStore()
    let build, inspect
    assert.doesNotThrow(() => {
      build = store.build(42)
      inspect = store.inspect()
    })
    assert.match((await rejectsWithCode(build, 'INVALID_INPUT')).message, /^build: `context` must be a string$/)
    assert.match((await rejectsWithCode(inspect, 'INVALID_INPUT')).message, /^inspect: `reference` must be a string$/)
  })

  test('exports version and Store', () => {
    assert.match(idpkit.version, /^\d+\.\d+\.\d+/)
    assert.equal(typeof idpkit.Store, 'function')
  })
})

describe('new Store', () => {
  test('creates an OCI image layout at the path', () => {
    const root = join(tempDir(), 'a', 'store')
    const store = new idpkit.Store(root)
    assert.equal(store.path, root)
    assert.ok(existsSync(join(root, 'oci-layout')))
    assert.ok(existsSync(join(root, 'index.json')))
  })

  test('without a path opens the default store ($IDPKIT_STORE)', () => {
    const root = join(tempDir(), 'default')
    const before = process.env.IDPKIT_STORE
    process.env.IDPKIT_STORE = root
    try {
      const store = new idpkit.Store()
      assert.equal(store.path, root)
      assert.ok(existsSync(join(root, 'oci-layout')))
    } finally {
      if (before === undefined) delete process.env.IDPKIT_STORE
      else process.env.IDPKIT_STORE = before
    }
  })

  test('throws INVALID_INPUT for a directory that is not a store', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'unrelated.txt'), 'x')
    assert.throws(() => new idpkit.Store(dir), (e) => {
      assert.ok(e instanceof idpkit.IdpkitError)
      assert.equal(e.code, 'INVALID_INPUT')
      assert.match(e.message, /not an OCI image layout/)
      return true
    })
  })
})

describe('build', () => {
  test('builds and tags an image; the result is camelCase', async () => {
    const store = newStore()
    const r = await store.build(smallContext(), { tags: ['app:dev'] })
    assert.match(r.digest, DIGEST)
    assert.match(r.configDigest, DIGEST)
    assert.match(r.layer.digest, DIGEST)
    assert.match(r.layer.diffId, DIGEST)
    assert.equal(r.layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip')
    assert.equal(typeof r.layer.size, 'number')
    assert.deepEqual(r.tags, ['docker.io/library/app:dev'])
    assert.equal(r.cached, false)
    assert.equal(typeof r.size, 'number')
    assert.ok(r.entries >= 3, `entries ${r.entries}`)
    assert.equal(r.config_digest, undefined)
  })

  test('without options builds an untagged image', async () => {
    const store = newStore()
    const r = await store.build(smallContext())
    assert.deepEqual(r.tags, [])
    const images = await store.images()
    assert.equal(images.length, 1)
    assert.equal(images[0].reference, null)
    assert.equal(images[0].digest, r.digest)
  })

  test('passes every option through to the image', async () => {
    const store = newStore()
    // skip.log goes by `*.log`, app/debug.log by `app/*.log`, secret.env by the context's
    // .dockerignore; app/deep/trace.log stays (Docker's `*` never crosses a `/`).
    const ctx = smallContext({
      'a.txt': 'a',
      'skip.log': 'x',
      'secret.env': 's',
      '.dockerignore': 'secret.env\n',
      'app/b.txt': 'b',
      'app/debug.log': 'd',
      'app/deep/trace.log': 't',
    })
    const layerOptions = {
      prefix: '/srv',
      user: '1000:1000',
      excludes: ['*.log', 'app/*.log'],
      sourceDateEpoch: 5_000_000_000,
      noCache: true,
    }
    const r = await store.build(ctx, {
      ...layerOptions,
      tags: ['example.com/team/app:1.0'],
      entrypoint: ['/bin/app'],
      cmd: ['--serve'],
      env: { APP_MODE: 'dev', lower_case: 'kept' },
      workdir: '/srv',
      labels: { 'org.example.team_name': 'platform' },
      annotations: { 'org.example.build_id': '42' },
      platform: 'linux/arm64',
      compression: 'zstd',
      level: 5,
      threads: 2,
    })
    assert.deepEqual(r.tags, ['example.com/team/app:1.0'])
    assert.equal(r.layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd')
    const info = await store.inspect('example.com/team/app:1.0')
    const cfg = info.config
    assert.equal(cfg.architecture, 'arm64')
    assert.equal(cfg.os, 'linux')
    assert.deepEqual(cfg.config.Entrypoint, ['/bin/app'])
    assert.deepEqual(cfg.config.Cmd, ['--serve'])
    assert.ok(cfg.config.Env.includes('APP_MODE=dev'))
    assert.ok(cfg.config.Env.includes('lower_case=kept'))
    assert.equal(cfg.config.WorkingDir, '/srv')
    assert.equal(cfg.config.User, '1000:1000')
    assert.deepEqual(cfg.config.Labels, { 'org.example.team_name': 'platform' })
    assert.equal(info.manifest.annotations['org.example.build_id'], '42')
    // The config's times are Dates, as ImageSummary's `created` is.
    assert.ok(cfg.created instanceof Date, `config.created: ${cfg.created}`)
    assert.equal(cfg.created.toISOString(), '2128-06-11T08:53:20.000Z')
    assert.equal(cfg.history.at(-1).created.getTime(), cfg.created.getTime())
    assert.equal(info.manifest.layers.length, 1)
    assert.equal(info.manifest.layers[0].digest, r.layer.digest)

    // The layer holds exactly the kept files. Node cannot uncompress zstd, so the same
    // context is built again into a gzip layer: the same uncompressed tar (its diffId) as the
    // zstd layer's, which is then read entry by entry.
    const twin = await store.build(ctx, { ...layerOptions, compression: 'gzip' })
    assert.equal(twin.layer.diffId, r.layer.diffId, 'the gzip twin holds another tar than the zstd layer')
    const expected = [
      'srv/',
      'srv/.dockerignore',
      'srv/a.txt',
      'srv/app/',
      'srv/app/b.txt',
      'srv/app/deep/',
      'srv/app/deep/trace.log',
    ]
    assert.deepEqual(gzipLayerEntries(store, twin.layer.digest, twin.layer.diffId), expected)
    assert.equal(r.entries, expected.length)
    assert.equal(twin.entries, expected.length)
  })

  test('reuses the layer cache unless noCache', async () => {
    const store = newStore()
    const ctx = smallContext()
    const first = await store.build(ctx)
    const second = await store.build(ctx)
    const third = await store.build(ctx, { noCache: true })
    assert.equal(first.cached, false)
    assert.equal(second.cached, true)
    assert.equal(third.cached, false)
    assert.equal(second.digest, first.digest)
    assert.equal(third.digest, first.digest)
  })

  test('builds on a base image with from', async () => {
    const store = newStore()
    await store.build(smallContext({ 'base.txt': 'base' }), { tags: ['base:1'], env: { A: '1' } })
    const r = await store.build(smallContext({ 'top.txt': 'top' }), { from: 'base:1', tags: ['top:1'] })
    const info = await store.inspect('top:1')
    assert.equal(info.manifest.layers.length, 2)
    assert.equal(info.manifest.layers[1].digest, r.layer.digest)
    assert.ok(info.config.config.Env.includes('A=1'))
  })

  test('rejects an unknown option with INVALID_INPUT naming it in camelCase', async () => {
    const store = newStore()
    const e = await rejectsWithCode(store.build(smallContext(), { noCach: true }), 'INVALID_INPUT')
    assert.match(e.message, /unknown field `noCach`/)
    assert.match(e.message, /`noCache`/)
    assert.match(e.message, /`sourceDateEpoch`/)
  })

  test('rejects an option of the wrong type with INVALID_INPUT naming it', async () => {
    const store = newStore()
    const e = await rejectsWithCode(store.build(smallContext(), { tags: 'app:dev' }), 'INVALID_INPUT')
    assert.match(e.message, /`tags`/)
    await rejectsWithCode(store.build(smallContext(), { compression: 'brotli' }), 'INVALID_INPUT')
    await rejectsWithCode(store.build(smallContext(), { level: 99 }), 'INVALID_INPUT')
    await rejectsWithCode(store.build(smallContext(), { tags: ['Not A Tag'] }), 'INVALID_INPUT')
    await rejectsWithCode(store.build(smallContext(), { onProgress: 'no' }), 'INVALID_INPUT')
    await rejectsWithCode(store.build(smallContext(), { context: '/elsewhere' }), 'INVALID_INPUT')
    await rejectsWithCode(store.build(smallContext(), 5), 'INVALID_INPUT')
    await rejectsWithCode(store.build(smallContext(), 'noCache'), 'INVALID_INPUT')
    assert.deepEqual((await store.build(smallContext(), null)).tags, [])
  })

  test('treats undefined options as absent', async () => {
    const store = newStore()
    const r = await store.build(smallContext(), { tags: undefined, from: undefined, signal: undefined, onProgress: undefined })
    assert.deepEqual(r.tags, [])
  })

  test('rejects a missing context with NOT_FOUND and a missing base with NOT_FOUND', async () => {
    const store = newStore()
    await rejectsWithCode(store.build(join(tempDir(), 'nope')), 'NOT_FOUND')
    await rejectsWithCode(store.build(smallContext(), { from: 'missing:1' }), 'NOT_FOUND')
  })
})

describe('images, tag, remove, inspect, gc', () => {
  test('images lists one row per tag', async () => {
    const store = newStore()
    assert.deepEqual(await store.images(), [])
    const r = await store.build(smallContext(), { tags: ['app:1', 'app:2'] })
    const images = await store.images()
    assert.deepEqual(images.map((i) => i.reference).sort(), ['docker.io/library/app:1', 'docker.io/library/app:2'])
    for (const i of images) {
      assert.equal(i.digest, r.digest)
      assert.equal(i.size, r.size)
      assert.equal(i.mediaType, 'application/vnd.oci.image.manifest.v1+json')
      // created is a Date (the contract's date-time fields are, in every result).
      assert.ok(i.created instanceof Date)
      assert.equal(i.created.toISOString(), '1970-01-01T00:00:00.000Z')
    }
  })

  test('tag points a new reference at an image', async () => {
    const store = newStore()
    const r = await store.build(smallContext(), { tags: ['app:1'] })
    const s = await store.tag('app:1', 'registry.example.com/app:stable')
    assert.equal(s.reference, 'registry.example.com/app:stable')
    assert.equal(s.digest, r.digest)
    assert.equal((await store.images()).length, 2)
    await rejectsWithCode(store.tag('missing:1', 'x:1'), 'NOT_FOUND')
    await rejectsWithCode(store.tag('app:1', 'Bad Ref'), 'INVALID_INPUT')
  })

  test('remove drops a tag and resolves to what it removed', async () => {
    const store = newStore()
    await store.build(smallContext(), { tags: ['app:1', 'app:2'] })
    assert.deepEqual(await store.remove('app:1'), ['docker.io/library/app:1'])
    assert.deepEqual((await store.images()).map((i) => i.reference), ['docker.io/library/app:2'])
    await rejectsWithCode(store.remove('app:1'), 'NOT_FOUND')
  })

  test('inspect returns the manifest and config with their own field names', async () => {
    const store = newStore()
    const r = await store.build(smallContext(), { tags: ['app:1'], labels: { some_label: 'v' } })
    const info = await store.inspect('app:1')
    assert.equal(info.reference, 'docker.io/library/app:1')
    assert.equal(info.digest, r.digest)
    assert.equal(info.manifest.schemaVersion, 2)
    assert.equal(info.manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json')
    assert.equal(info.manifest.config.digest, r.configDigest)
    assert.deepEqual(info.config.rootfs.diff_ids, [r.layer.diffId])
    assert.deepEqual(info.config.config.Labels, { some_label: 'v' })
    assert.equal((await store.inspect(r.digest)).digest, r.digest)
    await rejectsWithCode(store.inspect('missing:latest'), 'NOT_FOUND')
    await rejectsWithCode(store.inspect('UPPER CASE'), 'INVALID_INPUT')
  })

  test('gc deletes unreachable blobs only', async () => {
    const store = newStore()
    await store.build(smallContext({ 'keep.txt': 'keep' }), { tags: ['keep:1'] })
    await store.build(smallContext({ 'drop.txt': 'drop' }), { tags: ['drop:1'] })
    assert.deepEqual(await store.gc(), { removedBlobs: 0, freedBytes: 0 })
    await store.remove('drop:1')
    const report = await store.gc()
    assert.ok(report.removedBlobs >= 3, JSON.stringify(report))
    assert.ok(report.freedBytes > 0)
    assert.equal((await store.inspect('keep:1')).reference, 'docker.io/library/keep:1')
  })
})

describe('export and importLayout', () => {
  test('round-trip an image through an OCI layout', async () => {
    const store = newStore()
    const r = await store.build(smallContext(), { tags: ['app:1.2'] })
    const layout = join(tempDir(), 'layout')
    const exported = await store.export('app:1.2', layout)
    assert.equal(exported.reference, '1.2')
    assert.equal(exported.digest, r.digest)
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'))
    assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], '1.2')

    await store.export('app:1.2', layout, { tag: 'stable' })

    const other = newStore()
    const all = await other.importLayout(layout)
    assert.equal(all.length, 2)
    for (const i of all) assert.equal(i.digest, r.digest)
    assert.ok(all.every((i) => i.reference.startsWith('localhost/layout:')))

    const third = newStore()
    const named = await third.importLayout(layout, { tag: 'stable', name: 'team/app:imported' })
    assert.deepEqual(named.map((i) => i.reference), ['docker.io/team/app:imported'])
    assert.equal((await third.inspect('team/app:imported')).digest, r.digest)
  })

  test('errors: missing image, missing layout, missing tag, bad options', async () => {
    const store = newStore()
    await store.build(smallContext(), { tags: ['app:1'] })
    const layout = join(tempDir(), 'layout')
    await rejectsWithCode(store.export('missing:1', layout), 'NOT_FOUND')
    await rejectsWithCode(store.importLayout(smallContext()), 'INVALID_INPUT')
    await store.export('app:1', layout)
    await rejectsWithCode(store.importLayout(layout, { tag: 'nope' }), 'NOT_FOUND')
    await rejectsWithCode(store.importLayout(layout, { tga: '1' }), 'INVALID_INPUT')
    await rejectsWithCode(store.export('app:1', layout, { tag: 7 }), 'INVALID_INPUT')
    await rejectsWithCode(store.export('app:1', layout, 'stable'), 'INVALID_INPUT')
    await rejectsWithCode(store.importLayout(layout, 1), 'INVALID_INPUT')
  })
})

describe('tag and tags', () => {
  test('build takes `tag` (one or a list) and `tags`, as the Python package does', async () => {
    const store = newStore()
    const ctx = smallContext()
    const r = await store.build(ctx, { tag: ['app:one', 'example.com/x/app:two'], tags: ['app:three'] })
    assert.deepEqual(r.tags, ['docker.io/library/app:one', 'example.com/x/app:two', 'docker.io/library/app:three'])
    assert.deepEqual((await store.build(ctx, { tag: 'app:four' })).tags, ['docker.io/library/app:four'])
    assert.deepEqual((await store.build({ context: ctx, tag: 'app:five' })).tags, ['docker.io/library/app:five'])
    const e = await rejectsWithCode(store.build(ctx, { tag: 'Not A Tag' }), 'INVALID_INPUT')
    assert.match(e.message, /Not A Tag/)
  })
})
