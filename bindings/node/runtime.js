'use strict'
// The one path of every call of the package: the generated functions of index.js hand their
// arguments here, and this turns them into one native `call` (src/lib.rs): the options as the
// contract's snake_case JSON, credentials, the progress callback and the AbortSignal beside
// it. Nothing here knows an option: the core parses the JSON strictly and names whatever is
// wrong; this file only converts key case (in both directions, the one place it happens).

const native = require('./native.js')

/**
 * Values under these keys are data, not idpkit structs: OCI documents (`manifest`, `config`,
 * `index`: the image spec's own names, `mediaType`, `Env`, `diff_ids`, as registries' JSON has
 * them) and user-chosen maps (`values`: a secrets file's own keys, such as `db_user`, which
 * must not become `dbUser`). scripts/gen.mjs reads this line: what it reaches is typed under
 * those names, and it fails when a definition is reached both here and elsewhere.
 */
const OPAQUE = new Set(['manifest', 'config', 'index', 'env', 'labels', 'annotations', 'values'])
/**
 * Result fields the contract marks `x-secret` (decrypted values): they stay readable and
 * JSON-serializable, but console.log and util.inspect print them as [redacted], so logging a
 * result never leaks a secret. test/secrets.test.mjs checks this list against the contract.
 */
const SECRET = new Set(['values'])
const INSPECT = Symbol.for('nodejs.util.inspect.custom')

function hideFromInspect(v) {
  if (typeof v === 'object' && v !== null) {
    Object.defineProperty(v, INSPECT, { value: () => '[redacted]', enumerable: false })
  }
  return v
}
/** What a call carries besides its options; never part of the options JSON. */
const CREDENTIALS = ['username', 'password', 'token']
const SOURCE_CREDENTIALS = ['sourceUsername', 'sourcePassword', 'sourceToken']

/** `source_date_epoch` → `sourceDateEpoch`; anything not snake_case is left alone. */
const camel = (key) => (/^[a-z][a-z0-9_]*$/.test(key) ? key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()) : key)
/** `sourceDateEpoch` → `source_date_epoch`. */
const snake = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/**
 * The one error class of the package: every rejection (and the Store constructor's throw) is
 * one. `code` is the core's `ErrorKind` code; `cause`, where there is one, what led to it
 * (for `CANCELLED`, the signal's `reason`).
 */
class IdpkitError extends Error {
  constructor(code, message, options) {
    super(message, options)
    this.code = code
  }

  get name() {
    return 'IdpkitError'
  }
}

function error(code, message, options) {
  return new IdpkitError(code, message, options)
}

/**
 * `e` (the addon's Error, or one of this file) as an IdpkitError whose stack is `site`'s: the
 * addon rejects from the thread pool, with no JavaScript frame to show, so the stack is the
 * one captured when the caller made the call.
 */
function wrap(e, site, signal) {
  const code = typeof e?.code === 'string' ? e.code : 'INTERNAL'
  let out = e
  if (!(e instanceof IdpkitError)) {
    const cause = code === 'CANCELLED' ? undefined : e instanceof Error && e.code === undefined ? e : undefined
    out = error(code, e instanceof Error ? e.message : String(e), cause === undefined ? undefined : { cause })
  }
  // Aborted: the reason the caller gave (an AbortError or TimeoutError DOMException, or theirs).
  if (code === 'CANCELLED' && signal?.aborted && out.cause === undefined) out.cause = signal.reason
  if (site?.stack) out.stack = `${out.name}: ${out.message}\n${site.stack.slice(site.stack.indexOf('\n') + 1)}`
  return out
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A core result or event as JavaScript sees it: struct keys camelCase, data left alone. */
function toJs(value) {
  if (Array.isArray(value)) return value.map(toJs)
  if (!isObject(value)) return value
  const out = {}
  for (const [k, v] of Object.entries(value)) {
    const js = OPAQUE.has(k) ? v : toJs(v)
    out[camel(k)] = SECRET.has(k) ? hideFromInspect(js) : js
  }
  return out
}

/**
 * `value` with the RFC 3339 strings at `paths` (`created`, `runs[].created`, `[].created`,
 * from the contract's date-time fields) turned into Dates.
 */
function withDates(value, paths) {
  const at = (v, steps) => {
    if (v === null || v === undefined) return v
    if (steps.length === 0) return typeof v === 'string' ? new Date(v) : v
    const [step, ...rest] = steps
    if (step === '[]') return Array.isArray(v) ? v.map((x) => at(x, rest)) : v
    if (isObject(v) && step in v) v[step] = at(v[step], rest)
    return v
  }
  for (const path of paths ?? []) {
    value = at(value, path.split(/\.|(?=\[\])|(?<=\[\])/).filter(Boolean))
  }
  return value
}

/**
 * Options as the core reads them: keys snake_case. A key that is not camelCase (`certs_d`)
 * would reach the core as a valid field under another spelling than the documented one, so it
 * is refused here, naming it.
 */
function fromJs(value, path) {
  if (Array.isArray(value)) return value.map((v, i) => fromJs(v, `${path}[${i}]`))
  if (!isObject(value)) return value
  const out = {}
  for (const [k, v] of Object.entries(value)) {
    const s = snake(k)
    if (camel(s) !== k) {
      throw error('INVALID_INPUT', `option \`${path ? `${path}.` : ''}${k}\`: unknown field \`${k}\`; options are camelCase (\`${camel(k)}\`)`)
    }
    out[s] = OPAQUE.has(s) ? v : fromJs(v, path ? `${path}.${k}` : k)
  }
  return out
}

/** A field path of the core (`pull.ca_files[0]`) as the caller wrote it (`pull.caFiles[0]`). */
function camelPath(path) {
  const parts = path.split('.')
  return parts.map((p, i) => (i > 0 && OPAQUE.has(parts[i - 1]) ? p : p.replace(/^[a-z][a-z0-9_]*/, camel))).join('.')
}

/**
 * The core's INVALID_INPUT message with its field names in camelCase: `options.tags: ...` and
 * `options field \`tags\`: ...` become "option `tags`: ...", and the names of an "unknown
 * field" message are converted (never a value's, such as an enum variant).
 */
function camelMessage(message) {
  let m = message
    .replace(/^options\.([^\s:]+):/, (_, p) => `option \`${camelPath(p)}\`:`)
    .replace(/^options field `([^`]+)`:/, (_, p) => `option \`${camelPath(p)}\`:`)
  const i = m.indexOf('unknown field `')
  if (i >= 0) m = m.slice(0, i) + m.slice(i).replace(/`([^`]+)`/g, (_, name) => `\`${camel(name)}\``)
  return m
}

/**
 * The arguments of a generated function as one options object: positional arguments (checked
 * for their type at once, as any native binding does) merged under their field names.
 */
function gather(spec, args) {
  const fn = spec.js
  if (spec.positional.length === 0 || isObject(args[0])) return { given: {}, options: args[0] }
  const given = {}
  spec.positional.forEach(({ name, type }, i) => {
    const v = args[i]
    if (type === 'object') {
      if (v !== undefined && v !== null && !isObject(v)) throw error('INVALID_INPUT', `${fn}: \`${name}\` must be an object`)
    } else if (type === 'array') {
      if (!Array.isArray(v)) throw error('INVALID_INPUT', `${fn}: \`${name}\` must be an array`)
    } else if (typeof v !== 'string' && !(type === 'string?' && (v === undefined || v === null))) {
      // The value itself is not quoted: it may be a password.
      throw error('INVALID_INPUT', `${fn}: \`${name}\` must be a string`)
    }
    if (v !== undefined && v !== null) given[name] = v
  })
  return { given, options: args[spec.positional.length] }
}

/**
 * Runs the operation `spec` describes (see index.js) with a generated function's `args`;
 * `caller` is that function, where the stack of its errors starts. Never throws: a bad
 * argument rejects, as everything else does.
 */
function invoke(spec, store, args, caller) {
  const site = { stack: '' }
  Error.captureStackTrace(site, caller ?? invoke)
  const side = {}
  try {
    const { given, options } = gather(spec, args)
    return run(spec, store, given, options, side).then(undefined, (e) => {
      throw wrap(e, site, side.signal)
    })
  } catch (e) {
    return Promise.reject(wrap(e, site, side.signal))
  }
}

/** `side` receives what the call carries besides its options (its `signal` for `invoke`). */
function run(spec, store, given, options, side) {
  const fn = spec.js
  if (options !== undefined && options !== null && !isObject(options)) {
    throw error('INVALID_INPUT', `${fn}: options: expected an object`)
  }
  const all = { ...options }
  for (const [name, v] of Object.entries(given)) {
    if (all[name] !== undefined) {
      throw error('INVALID_INPUT', `${fn}: \`${name}\` is one of the arguments of ${fn}; leave it out of the options`)
    }
    all[name] = v
  }
  for (const [alias, target] of Object.entries(spec.aliases)) {
    // `tag: 'a:1'` or `tag: ['a:1', 'b:1']`, before `tags`, as in the Python package.
    if (all[alias] !== undefined) all[target] = [].concat(all[alias], all[target] ?? [])
    delete all[alias]
  }

  // What is not data: taken out of the options, checked, and passed beside them.
  const accepts = {
    onProgress: spec.parts.includes('events'),
    signal: spec.parts.includes('signal'),
    ...Object.fromEntries(CREDENTIALS.map((k) => [k, spec.parts.includes('credentials')])),
    ...Object.fromEntries(SOURCE_CREDENTIALS.map((k) => [k, spec.parts.includes('source')])),
  }
  for (const [key, accepted] of Object.entries(accepts)) {
    const v = all[key]
    delete all[key]
    if (v === undefined || v === null) continue
    if (!accepted) throw error('INVALID_INPUT', `${fn}: \`${key}\` is not an option of ${fn}`)
    side[key] = v
  }
  if (side.onProgress !== undefined && typeof side.onProgress !== 'function') {
    throw error('INVALID_INPUT', `option \`onProgress\`: expected a function`)
  }
  const s = side.signal
  if (s !== undefined && !(isObject(s) && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function')) {
    throw error('INVALID_INPUT', 'option `signal`: expected an AbortSignal')
  }
  const credentials = {}
  for (const key of [...CREDENTIALS, ...SOURCE_CREDENTIALS]) {
    if (side[key] === undefined) continue
    // Not quoted: it is a secret pasted where it should not be.
    if (typeof side[key] !== 'string') throw error('INVALID_INPUT', `option \`${key}\`: expected a string`)
    credentials[key] = side[key]
  }

  let json
  try {
    json = JSON.stringify(fromJs(all, ''))
  } catch (e) {
    if (e.code) throw e
    throw error('INVALID_INPUT', `${fn}: options: ${e.message}`, { cause: e })
  }
  const onEvent = side.onProgress && ((event) => side.onProgress(toJs(event)))
  // Events travel through a threadsafe function whose queue libuv may serve just after the
  // call's completion in the same loop turn: one turn more (setImmediate runs after the poll
  // phase) delivers every event the call sent before its promise settles.
  const drained = () => (onEvent ? new Promise((resolve) => setImmediate(resolve)) : undefined)
  return native.call(spec.name, store, json, credentials, onEvent, side.signal).then(
    async (result) => {
      await drained()
      return withDates(toJs(JSON.parse(result)), spec.times)
    },
    async (e) => {
      await drained()
      if (e.code === 'INVALID_INPUT' && typeof e.message === 'string') e.message = camelMessage(e.message)
      throw e
    },
  )
}

/**
 * Runs the operation `spec` describes as `invoke` does, as an async iterator of the payloads of
 * its `type` events (the event without its `type`, camelCase): a watch that runs until it is
 * aborted. The caller's `onProgress` still gets every event and its `signal` still aborts the
 * call; leaving the loop (`break`, `return`, an exception) aborts it too, and waits for it to
 * end. The iterator's return value is the call's result; its error is the call's. Events may
 * reach the event loop after the call's promise settles: the result's `fetched` count (how
 * many `type` events the core sent) says how many to wait for.
 */
async function* iterate(spec, store, args, caller, type) {
  const at = spec.positional.length === 0 || isObject(args[0]) ? 0 : spec.positional.length
  const given = args[at]
  const options = isObject(given) ? { ...given } : {}
  const { onProgress, signal } = options
  const controller = new AbortController()
  const forward = () => controller.abort(signal.reason)
  const listening = isObject(signal) && typeof signal.addEventListener === 'function'
  if (listening) {
    if (signal.aborted) forward()
    else signal.addEventListener('abort', forward, { once: true })
  }
  const items = []
  let wake = null
  const notify = () => {
    const w = wake
    wake = null
    w?.()
  }
  options.onProgress = (event) => {
    if (event.type === type) {
      const { type: _, ...item } = event
      items.push(item)
      notify()
    }
    if (typeof onProgress === 'function') onProgress(event)
  }
  options.signal = controller.signal
  const callArgs = [...args]
  // Not an object: left as given, for invoke to reject as it would.
  callArgs[at] = given === undefined || given === null || isObject(given) ? options : given
  let settled = null
  const call = invoke(spec, store, callArgs, caller).then(
    (value) => {
      settled = { value }
      notify()
    },
    (error) => {
      settled = { error }
      notify()
    },
  )
  let yielded = 0
  try {
    for (;;) {
      if (items.length) {
        yielded++
        yield items.shift()
        continue
      }
      if (settled?.error) throw settled.error
      if (settled && !(yielded < (settled.value?.fetched ?? 0))) return settled.value
      await new Promise((resolve) => {
        wake = resolve
      })
    }
  } finally {
    controller.abort()
    await call
    if (listening) signal.removeEventListener('abort', forward)
  }
}

/** Opens a native store; its errors are IdpkitErrors too, with the caller's stack. */
function openStore(path, caller) {
  try {
    return new native.Store(path)
  } catch (e) {
    const site = { stack: '' }
    Error.captureStackTrace(site, caller)
    throw wrap(e, site)
  }
}

module.exports = { invoke, iterate, openStore, IdpkitError, toJs, fromJs, camelMessage, native }
