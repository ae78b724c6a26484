// What a user sees of the package's errors and entry points: every rejection is an
// IdpkitError (instanceof, a typed `code`, the caller's stack, a `cause` where there is one),
// cancellation carries the signal's reason, wrong argument types reject instead of throwing,
// and `import` from the package name gives the same module as `require`.
// Imported by the package name on purpose: the `exports` map is what is under test.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import * as esm from 'idpkit'
import idpkitDefault, { Store, listTags, IdpkitError, copy, login, trustCheck } from 'idpkit'
import { newStore, smallContext, rejectsWithCode, silentServer, seen } from './helpers.mjs'
import { assertNoSecret } from './rig.mjs'

const require = createRequire(import.meta.url)
const cjs = require('idpkit')
const here = fileURLToPath(import.meta.url)

/** The frames of a stack (its lines after the message). */
const frames = (e) => e.stack.split('\n').filter((l) => /^\s+at /.test(l))

/** The stack's first frame is this file's, and no frame is the package's own JavaScript. */
function assertCallerStack(e) {
  const all = frames(e)
  assert.ok(all.length > 0, `no frames in ${e.stack}`)
  assert.ok(all[0].includes(here), `first frame is not the caller's: ${all[0]}\n${e.stack}`)
  for (const f of all) assert.doesNotMatch(f, /bindings\/node\/(runtime|index|native)\.js/, e.stack)
  assert.ok(e.stack.startsWith(`IdpkitError: ${e.message}\n`), e.stack)
}

describe('ESM entry', () => {
  test('import by the package name gives the CommonJS module\'s exports, the same objects', () => {
    assert.equal(typeof Store, 'function')
    assert.equal(typeof listTags, 'function')
    assert.equal(Store, cjs.Store)
    assert.equal(listTags, cjs.listTags)
    assert.equal(IdpkitError, cjs.IdpkitError)
    assert.equal(idpkitDefault, cjs)
    assert.deepEqual(Object.keys(esm).filter((k) => k !== 'default').sort(), Object.keys(cjs).sort())
  })

  test('exports no napi internals and keeps the addon\'s files private', () => {
    for (const name of ['__napiBindingTarget', 'native', 'call', 'invoke']) {
      assert.ok(!(name in esm), `ESM entry exports ${name}`)
      assert.ok(!(name in cjs), `CommonJS entry exports ${name}`)
    }
    for (const path of ['idpkit/native.js', 'idpkit/runtime.js', 'idpkit/index.js']) {
      assert.throws(() => require(path), (e) => e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED', path)
    }
  })

  test('a Store from the ESM entry works', async () => {
    const store = new Store(newStore().path)
    const built = await store.build(smallContext(), { tags: ['esm:1'] })
    assert.deepEqual((await store.images()).map((i) => i.digest), [built.digest])
  })
})

describe('IdpkitError', () => {
  test('a core error is an IdpkitError with the code, the message and the caller\'s stack', async () => {
    const store = newStore()
    const e = await rejectsWithCode(store.inspect('web:missing'), 'NOT_FOUND')
    assert.ok(e instanceof IdpkitError)
    assert.ok(e instanceof Error)
    assert.equal(e.name, 'IdpkitError')
    assert.match(e.message, /web:missing/)
    assert.equal(e.cause, undefined)
    assertCallerStack(e)
    assert.equal(Object.prototype.toString.call(e), '[object Error]')
  })

  test('an error of a module function and of the Store constructor too', async () => {
    const e = await rejectsWithCode(listTags('127.0.0.1:9/a', { noSuchOption: 1 }), 'INVALID_INPUT')
    assert.match(e.message, /noSuchOption/)
    assertCallerStack(e)
    assert.throws(() => new Store(here), (err) => {
      assert.ok(err instanceof IdpkitError)
      assert.equal(err.code, 'INVALID_INPUT')
      assertCallerStack(err)
      return true
    })
  })

  test('an error that has a cause carries it', async () => {
    // JSON cannot hold a BigInt: the TypeError is the cause of INVALID_INPUT.
    const e = await rejectsWithCode(newStore().build(smallContext(), { level: 3n }), 'INVALID_INPUT')
    assert.ok(e.cause instanceof TypeError, String(e.cause))
    assert.match(e.message, /^build: options: /)
  })

  test('the code is one of the contract\'s error kinds', async () => {
    const contract = require('../../../contract/idpkit.json')
    const kinds = contract.error_kinds.map((k) => k.code)
    const codes = await Promise.all([
      listTags(42).catch((e) => e.code),
      newStore().remove('nothing:here').catch((e) => e.code),
    ])
    for (const code of codes) assert.ok(kinds.includes(code), code)
  })
})

describe('cancellation', () => {
  test('controller.abort(): CANCELLED whose cause is the AbortError DOMException', async () => {
    // Already aborted.
    const ac = new AbortController()
    ac.abort()
    const e = await rejectsWithCode(listTags('127.0.0.1:9/a', { signal: ac.signal }), 'CANCELLED')
    assert.ok(e instanceof IdpkitError)
    assert.equal(e.cause, ac.signal.reason)
    assert.ok(e.cause instanceof DOMException)
    assert.equal(e.cause.name, 'AbortError')
    assertCallerStack(e)

    // Aborted while the request hangs.
    const silent = await silentServer()
    try {
      const mid = new AbortController()
      const call = listTags(`${silent.host}/a/b`, { signal: mid.signal })
      setTimeout(() => mid.abort(), 100)
      const m = await rejectsWithCode(call, 'CANCELLED')
      assert.equal(m.cause, mid.signal.reason)
      assert.equal(m.cause.name, 'AbortError')
      assertCallerStack(m)
    } finally {
      silent.close()
    }
  })

  test('AbortSignal.timeout(): CANCELLED whose cause is the TimeoutError', async () => {
    const silent = await silentServer()
    try {
      const signal = AbortSignal.timeout(150)
      const e = await rejectsWithCode(copy(`${silent.host}/a/b:1`, `${silent.host}/a/c:1`, { signal }), 'CANCELLED')
      assert.ok(e.cause instanceof DOMException)
      assert.equal(e.cause.name, 'TimeoutError')
      assert.equal(e.cause, signal.reason)
    } finally {
      silent.close()
    }
  })

  test('a custom reason is the cause as given, for a build too', async () => {
    const reason = new Error('the user closed the window')
    const ac = new AbortController()
    ac.abort(reason)
    const e = await rejectsWithCode(newStore().build(smallContext(), { tags: ['x:1'], signal: ac.signal }), 'CANCELLED')
    assert.equal(e.cause, reason)
    const other = new AbortController()
    other.abort('a plain string')
    const t = await rejectsWithCode(trustCheck('127.0.0.1:9', { signal: other.signal }), 'CANCELLED')
    assert.equal(t.cause, 'a plain string')
  })
})

describe('wrong argument types reject, never throw', () => {
  test('a number as the reference, a string as options, an object as a credential', async () => {
    const store = newStore()
    const calls = {
      'listTags(42)': () => listTags(42),
      "listTags('h/r', 'opts')": () => listTags('127.0.0.1:9/a', 'opts'),
      "store.push(7, 'x')": () => store.push(7, '127.0.0.1:9/a:1'),
      "store.build('.', 'opts')": () => store.build('.', 'opts'),
      "login('h', 'u', {})": () => login('127.0.0.1:9', 'u', { secret: 'do-not-quote' }),
      "store.tag('a:1', ['b:1'])": () => store.tag('a:1', ['b:1']),
      'copy()': () => copy(),
    }
    for (const [what, call] of Object.entries(calls)) {
      let p
      assert.doesNotThrow(() => {
        p = call()
      }, what)
      assert.ok(p instanceof Promise, what)
      const e = await rejectsWithCode(p, 'INVALID_INPUT')
      assert.ok(e instanceof IdpkitError, what)
      assert.match(e.message, /must be a string|must be an object|options: expected an object/, what)
      assert.doesNotMatch(e.message, /do-not-quote/, what)
      assertCallerStack(e)
    }
  })

  test('no error seen here quotes a secret of the rig', () => {
    for (const e of seen.errors) assertNoSecret(`${e.code} ${e.message}\n${e.stack}`, 'an error')
  })
})
