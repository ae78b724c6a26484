// Generates the package's public surface from the call contract (contract/idpkit.json):
// index.js (the Store class and the module functions, each one `invoke` of runtime.js),
// index.mjs (the same exports for `import`), index.d.ts (every operation's options and result
// types, camelCase, with the contract's documentation, and the error codes) and index.d.mts. Run `npm run gen`; `--check` (tests/suites/50-node.sh) fails when they are stale.
// A field or an operation added in core appears here without a hand edit: each operation's
// positional arguments and what a call carries besides its options (`positional`, `uses`) come
// from the contract too; JS below holds only what is JavaScript's own.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const here = import.meta.dirname
const pkg = join(here, '..')
const contract = JSON.parse(readFileSync(join(pkg, '..', '..', 'contract', 'idpkit.json'), 'utf8'))
const defs = contract.$defs

/**
 * Where an operation looks different in JavaScript than the contract says, each with why:
 * `js` its name (default: camelCase), `positional` its leading arguments instead of the
 * contract's, `extra` leading arguments after the contract's (a field of the options, or a
 * credential), `aliases` extra names of a list field, `deprecated` an old name kept.
 */
const JS = {
  // `tag: 'a:1'` or `tag: ['a:1', 'b:1']` beside `tags`, as in the Python package.
  build: { aliases: { tag: 'tags' } },
  // `import` and `delete` are reserved words in JavaScript.
  import: { js: 'importLayout' },
  delete: { js: 'deleteManifest' },
  // login(host, username, password): the package has always taken the call's credentials
  // positionally here (they are not options, so the contract cannot list them).
  // A bearer `token` is no login (there is nothing to store): not in its types.
  login: { extra: ['username', 'password'], noToken: true },
  // loginFromCluster(host, cluster): the package has always taken the cluster positionally.
  login_from_cluster: { extra: ['cluster'] },
  // The name trustExtract had before the contract, kept for existing callers.
  trust_extract: { deprecated: 'extractCa' },
  // resolveOptions({ operation, options }) only, as today: a positional `options`
  // object would read as the call's own options.
  resolve_options: { positional: [] },
  // A watch runs until aborted and reports each revision as an event: besides the promise of
  // its summary (`sourceWatchFlux`, events through `onProgress`), an async iterator of those
  // events' payloads (`for await (const fetched of watchFlux(...))`); `break` aborts it.
  source_watch_flux: { iterate: { js: 'watchFlux', event: 'source_fetched', item: 'SourceFetched' } },
  source_watch_argo: { iterate: { js: 'watchArgo', event: 'source_fetched', item: 'SourceFetched' } },
}

const camel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())
const snake = (k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
const pascal = (k) => camel(k).replace(/^./, (c) => c.toUpperCase())
/** The contract's `Event` is `IdpkitEvent` here: `Event` is a global type of Node and the DOM. */
const typeName = (def) => (def === 'Event' ? 'IdpkitEvent' : def)
const refName = (ref) => typeName(ref.replace('#/$defs/', ''))
const resolve = (s) => (s && s.$ref ? defs[s.$ref.replace('#/$defs/', '')] : s)

/**
 * The fields whose values runtime.js hands over as they are (OPAQUE there: OCI documents and
 * user-chosen maps), read from runtime.js so that the types below say what the runtime does.
 */
const OPAQUE = (() => {
  const m = readFileSync(join(pkg, 'runtime.js'), 'utf8').match(/^const OPAQUE = new Set\((\[[^\]]*\])\)$/m)
  if (!m) throw new Error('runtime.js: no `const OPAQUE = new Set([...])` line to read the opaque fields from')
  return new Set(JSON.parse(m[1].replaceAll("'", '"')))
})()

/**
 * The definitions a schema refers to, directly or through its members, into `out`; the
 * fields `skip` names are not followed.
 */
function refs(s, out = new Set(), skip = () => false) {
  if (!s || typeof s !== 'object') return out
  if (s.$ref) {
    const name = s.$ref.replace('#/$defs/', '')
    if (!out.has(name)) {
      out.add(name)
      refs(defs[name], out, skip)
    }
    return out
  }
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties') {
      for (const [field, schema] of Object.entries(v)) if (!skip(field)) refs(schema, out, skip)
    } else if (typeof v === 'object') refs(v, out, skip)
  }
  return out
}
/**
 * The OCI documents (ImageManifest, ImageConfig, Descriptor, …): every definition a field of
 * OPAQUE refers to, in a definition or inline. They reach JavaScript as the registry's JSON,
 * under the image spec's own names (`mediaType`, `Env`, `diff_ids`, `'os.version'`), and are
 * typed so.
 */
const wire = new Set()
function opaqueRefs(s) {
  if (!s || typeof s !== 'object') return
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties') {
      for (const [field, schema] of Object.entries(v)) (OPAQUE.has(field) ? refs : opaqueRefs)(schema, wire)
    } else if (typeof v === 'object') opaqueRefs(v)
  }
}
opaqueRefs(defs)
for (const op of contract.operations) opaqueRefs(op)
/** The definitions reached other than through an OPAQUE field: the runtime camelCases them. */
const converted = new Set()
const opaque = (field) => OPAQUE.has(field)
for (const op of contract.operations) {
  refs(op.options, converted, opaque)
  refs(op.output, converted, opaque)
}
refs(defs.Event, converted, opaque)
for (const name of wire) {
  if (converted.has(name)) {
    throw new Error(`${name} is reached both through an OPAQUE field of runtime.js (kept as is) and through other fields (camelCased): make runtime.js's rule per path`)
  }
}
/** A member name as TypeScript needs it: `'os.version'` quoted. */
const member = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`)

function doc(text, indent = '') {
  if (!text) return ''
  const lines = text.trim().split('\n')
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`
}

/** The TypeScript type of a schema. */
function ts(s) {
  if (s === true || s === undefined || (typeof s === 'object' && Object.keys(s).every((k) => k === 'description' || k === 'default' || k.startsWith('x-')))) return 'any'
  if (s.$ref) return refName(s.$ref)
  if (s.const !== undefined) return JSON.stringify(s.const).replaceAll('"', "'")
  if (s.enum) return s.enum.map((v) => (v === null ? 'null' : `'${v}'`)).join(' | ')
  const union = s.oneOf ?? s.anyOf
  if (union) return union.map(ts).join(' | ')
  const types = [].concat(s.type)
  return types
    .map((t) => {
      switch (t) {
        case 'null':
          return 'null'
        case 'string':
          return s.format === 'date-time' ? 'Date' : 'string'
        case 'integer':
        case 'number':
          return 'number'
        case 'boolean':
          return 'boolean'
        case 'array':
          return `Array<${ts(s.items)}>`
        default:
          if (s.properties) return `{ ${fields(s, false, '').join('; ')} }`
          if (typeof s.additionalProperties === 'object') return `Record<string, ${ts(s.additionalProperties)}>`
          // A map of any JSON values (the config's `ExposedPorts`, `Volumes`).
          if (s.additionalProperties === true) return 'Record<string, unknown>'
          return 'Record<string, any>'
      }
    })
    .join(' | ')
}

/**
 * The fields of an object schema as TypeScript members; options' fields are all optional.
 * `asIs`: an OCI document's, under their own names.
 */
function fields(s, optional, indent, asIs = false) {
  const required = new Set(s.required ?? [])
  // An event's `type` first: it is what a reader switches on.
  const entries = Object.entries(s.properties ?? {}).sort(([a], [b]) => (b === 'type') - (a === 'type'))
  return entries.map(([k, v]) => {
    const opt = optional || !required.has(k) ? '?' : ''
    const comment = indent ? doc(v.description, indent) : ''
    return `${comment}${indent}${asIs ? member(k) : camel(k)}${opt}: ${ts(v)}`
  })
}

// Which definitions are options (every field optional) rather than results.
const optionDefs = new Set()
function mark(s) {
  if (!s || typeof s !== 'object') return
  if (s.$ref) {
    const name = s.$ref.replace('#/$defs/', '')
    if (optionDefs.has(name)) return
    optionDefs.add(name)
    return mark(defs[name])
  }
  for (const v of Object.values(s)) if (typeof v === 'object') mark(v)
}
for (const op of contract.operations) mark(op.options)

// Every field name must survive camelCase and back, or the runtime could not map it (an OCI
// document's are never converted).
for (const [name, def] of Object.entries(defs)) {
  if (wire.has(name)) continue
  for (const k of Object.keys(def.properties ?? {})) {
    if (snake(camel(k)) !== k) throw new Error(`${name}.${k} does not round-trip through camelCase`)
  }
}

/** What a call carries besides its options (runtime.js), from the contract's `uses`. */
const PARTS = { events: 'events', cancel: 'signal', credential: 'credentials', source_credential: 'source' }

// An override of an operation the contract no longer has would silently do nothing.
for (const name of Object.keys(JS)) {
  if (!contract.operations.some((op) => op.name === name)) throw new Error(`JS.${name}: no such operation in the contract`)
}

const ops = contract.operations.map((op) => {
  const shape = JS[op.name] ?? {}
  const optionsDef = op.options.$ref ? refName(op.options.$ref) : null
  const props = resolve(op.options)?.properties ?? {}
  const positional = [...(shape.positional ?? op.positional), ...(shape.extra ?? [])].map((field) => {
    const schema = props[field]
    if (!schema && !(op.uses.credential && ['username', 'password'].includes(field))) {
      throw new Error(`JS.${op.name}: \`${field}\` is neither an option field nor a credential of ${op.name}`)
    }
    const object = schema && (resolve(schema)?.type === 'object' || resolve(schema)?.properties)
    // A field that is not an option is a credential: a string.
    const array = [].concat(resolve(schema ?? {})?.type).includes('array')
    const type = object ? 'object' : array ? 'array' : [].concat(schema?.type).includes('null') ? 'string?' : 'string'
    return { name: camel(field), type, schema }
  })
  return {
    name: op.name,
    js: shape.js ?? camel(op.name),
    store: op.needs_store,
    summary: op.summary,
    optionsType: `${pascal(op.name)}Options`,
    optionsDef,
    output: ts(op.output),
    positional,
    parts: Object.entries(PARTS).filter(([use]) => op.uses[use]).map(([, part]) => part),
    aliases: shape.aliases ?? {},
    deprecated: shape.deprecated,
    noToken: shape.noToken ?? false,
    iterate: shape.iterate,
  }
})
/**
 * Where a result holds RFC 3339 times (the contract's date-time strings), as paths the runtime
 * turns into Dates: `created`, `runs[].created`, `[].created`, `status.started`, and inside an
 * OCI document (its own names) `config.created`, `config.history[].created`.
 */
function timePaths(schema, prefix = '', seen = new Set(), asIs = false) {
  const s = resolve(schema)
  if (!s || typeof s !== 'object') return []
  if (schema.$ref) {
    if (seen.has(schema.$ref)) return []
    seen = new Set(seen).add(schema.$ref)
    asIs = wire.has(schema.$ref.replace('#/$defs/', ''))
  }
  const types = [].concat(s.type)
  if (types.includes('string') && s.format === 'date-time') return [prefix]
  const nullable = (s.anyOf ?? s.oneOf ?? []).find((a) => a.$ref)
  if (nullable) return timePaths(nullable, prefix, seen, asIs)
  if (types.includes('array')) return timePaths(s.items, `${prefix}[]`, seen, asIs)
  return Object.entries(s.properties ?? {}).flatMap(([k, v]) => {
    const key = asIs ? k : camel(k)
    const paths = timePaths(v, prefix ? `${prefix}.${key}` : key, seen, asIs)
    // runtime.js splits a path at `.` and `[]`.
    if (paths.length && /\.|\[\]/.test(key)) throw new Error(`a time under \`${key}\`: runtime.js cannot name it in a path`)
    return paths
  })
}
for (const [i, op] of contract.operations.entries()) ops[i].times = timePaths(op.output)

const iterators = ops.filter((o) => o.iterate)
for (const o of iterators) {
  const events = defs.Event.oneOf.map((v) => v.properties?.type?.const)
  if (!defs[o.iterate.item]) throw new Error(`JS.${o.name}.iterate: no type ${o.iterate.item} in the contract`)
  if (!events.includes(o.iterate.event)) throw new Error(`JS.${o.name}.iterate: no event ${o.iterate.event} in the contract`)
}

const HEADER = '// Generated by scripts/gen.mjs from contract/idpkit.json: do not edit.\n'

// ---- index.js
let js = `${HEADER}'use strict'\n\nconst { invoke, iterate, openStore, IdpkitError, native } = require('./runtime.js')\n\n`
js += '/** How each operation is called (its positional arguments, what it carries besides options). */\nconst OPS = {\n'
for (const o of ops) {
  const spec = { name: o.name, js: o.js, positional: o.positional.map(({ name, type }) => ({ name, type })), parts: o.parts, aliases: o.aliases }
  if (o.times.length) spec.times = o.times
  js += `  ${o.name}: ${JSON.stringify(spec)},\n`
}
js += '}\n\n'
js += doc('A local OCI image-layout store.')
js += 'class Store {\n  #native\n\n'
js += doc("Opens the store at `path` (created when missing or empty); without `path`, the default\nstore (`$IDPKIT_STORE`, else the XDG data dir). Throws `code` `'INVALID_INPUT'` when `path`\nis not a store.", '  ')
js += '  constructor(path) {\n    this.#native = openStore(path, Store)\n  }\n\n'
js += "  /** The store's root directory. */\n  get path() {\n    return this.#native.path\n  }\n"
for (const o of ops.filter((o) => o.store)) {
  js += `\n${doc(o.summary, '  ')}  ${o.js}(...args) {\n    return invoke(OPS.${o.name}, this.#native, args, Store.prototype.${o.js})\n  }\n`
}
js += '}\n'
for (const o of ops.filter((o) => !o.store)) {
  js += `\n${doc(o.summary)}function ${o.js}(...args) {\n  return invoke(OPS.${o.name}, null, args, ${o.js})\n}\n`
}
const iterateDoc = (o) =>
  `${o.summary}\nAs an async iterator of each \`${o.iterate.event}\` event's ${o.iterate.item}; \`break\` (or the\ncaller's \`signal\`) aborts the call, and the iterator's return value is its result.`
for (const o of iterators) {
  js += `\n${doc(iterateDoc(o))}function ${o.iterate.js}(...args) {\n  return iterate(OPS.${o.name}, null, args, ${o.iterate.js}, '${o.iterate.event}')\n}\n`
}
const exported = ['Store', 'IdpkitError', ...ops.filter((o) => !o.store).map((o) => o.js), ...iterators.map((o) => o.iterate.js)]
js += '\nmodule.exports = {\n  version: native.version,\n'
for (const name of exported) js += `  ${name},\n`
for (const o of ops.filter((o) => o.deprecated)) js += `  ${o.deprecated}: ${o.js},\n`
js += '}\n'

// ---- index.mjs: the CommonJS module's exports, by name, for `import` (one module instance:
// an IdpkitError from either entry is the same class).
const names = ['version', ...exported, ...ops.filter((o) => o.deprecated).map((o) => o.deprecated)]
const mjs = `${HEADER}import idpkit from './index.js'\n\nexport const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = idpkit\n\nexport default idpkit\n`
const dmts = `${HEADER}export * from './index.js'\nimport * as idpkit from './index.js'\nexport default idpkit\n`

// ---- index.d.ts
let dts = `${HEADER}/* eslint-disable */\n\n`
dts += "/** The idpkit version (the core library's). */\nexport declare const version: string\n\n"
dts += `/** The \`code\` of every error idpkit rejects with. */\nexport type ErrorCode = ${contract.error_kinds.map((k) => `'${k.code}'`).join(' | ')}\n\n`
dts += doc("Every error of idpkit: every rejected call and the `Store` constructor's throw (`instanceof\nIdpkitError` holds). `code` says what kind; the stack is the caller's; `cause`, where there is\none, what led to it (for `CANCELLED`, the signal's `reason`).")
dts += 'export declare class IdpkitError extends Error {\n  readonly code: ErrorCode\n  cause?: unknown\n}\n\n'
dts += doc('Credentials of a registry call, instead of the stored login. Never part of the options\ndocument the core sees: a username with its password (a Gitea token works as the password), or a\nregistry bearer token.')
dts += 'export interface Credentials {\n  username?: string\n  password?: string\n  token?: string\n}\n\n'
dts += doc("`copy`'s credentials for its source registry (default: the source's stored login).")
dts += 'export interface SourceCredentials {\n  sourceUsername?: string\n  sourcePassword?: string\n  sourceToken?: string\n}\n\n'
dts += 'export interface WithProgress {\n'
dts += doc('Called on the event loop with each progress, retry and audit event (never blocks the\noperation; an exception thrown here is reported as an uncaught exception).', '  ')
dts += '  onProgress?: (event: IdpkitEvent) => void\n}\n\n'
dts += "export interface WithSignal {\n  /** Aborting it cancels the call: the promise rejects with `code === 'CANCELLED'`. */\n  signal?: AbortSignal\n}\n\n"

for (const [name, def] of Object.entries(defs).sort(([a], [b]) => a.localeCompare(b))) {
  dts += doc(def.description)
  if (name === 'Event') {
    dts += `export type IdpkitEvent =\n${def.oneOf.map((v) => `${doc(v.description, '  ')}  | ${ts(v)}`).join('\n')}\n\n`
  } else if (def.properties || (def.type === 'object' && !def.additionalProperties)) {
    const members = fields(def, optionDefs.has(name), '  ', wire.has(name))
    dts += members.length ? `export interface ${name} {\n${members.join('\n')}\n}\n\n` : `export interface ${name} {}\n\n`
  } else {
    dts += `export type ${typeName(name)} = ${ts(def)}\n\n`
  }
}

/** The type of one call's options object: the operation's options and what it carries beside. */
function callType(o, omit) {
  const base = o.optionsDef ? (omit.length ? `Omit<${o.optionsType}, ${omit.map((n) => `'${n}'`).join(' | ')}>` : o.optionsType) : 'Record<string, any>'
  const parts = [base]
  // Credentials given positionally are not options too; `noToken`: no bearer token at all.
  const noCredential = [...(omit.includes('username') ? ['username', 'password'] : []), ...(o.noToken ? ['token'] : [])]
  if (o.parts.includes('credentials') && noCredential.length < 3) {
    parts.push(noCredential.length ? `Omit<Credentials, ${noCredential.map((n) => `'${n}'`).join(' | ')}>` : 'Credentials')
  }
  if (o.parts.includes('source')) parts.push('SourceCredentials')
  if (o.parts.includes('events')) parts.push('WithProgress')
  if (o.parts.includes('signal')) parts.push('WithSignal')
  for (const [alias, target] of Object.entries(o.aliases)) {
    const items = ts(resolve(defs[o.optionsDef])?.properties?.[snake(target)]?.items ?? { type: 'string' })
    parts.push(`{ ${alias}?: ${items} | Array<${items}> }`)
  }
  return parts.join(' & ')
}

function signatures(o, indent, prefix, iterator) {
  const out = []
  const ret = iterator ? `AsyncGenerator<${iterator.item}, ${o.output}, undefined>` : `Promise<${o.output}>`
  const comment = doc(iterator ? iterateDoc(o) : o.summary, indent)
  const js = iterator ? iterator.js : o.js
  if (o.positional.length) {
    const params = o.positional.map(({ name, type, schema }) => {
      if (type === 'object') return `${name}?: ${schema ? ts(schema) : 'Record<string, any>'} | null`
      if (type === 'array') return `${name}: ${ts(schema)}`
      return type === 'string?' ? `${name}?: string | null` : `${name}: string`
    })
    const omit = o.positional.map((p) => p.name)
    // No options left beside the arguments: no options parameter (`{}` would accept anything).
    const left = Object.keys(resolve(defs[o.optionsDef])?.properties ?? {}).filter((k) => !omit.includes(camel(k)))
    if (left.length || o.parts.length || Object.keys(o.aliases).length) params.push(`options?: ${callType(o, omit)}`)
    out.push(`${comment}${indent}${prefix}${js}(${params.join(', ')}): ${ret}`)
  }
  out.push(`${comment}${indent}${prefix}${js}(options${o.positional.length ? '' : '?'}: ${callType(o, [])}): ${ret}`)
  return out.join('\n')
}

dts += '/** The options of each operation, by its name. */\n'
for (const o of ops) if (o.optionsDef && o.optionsDef !== o.optionsType) dts += `export type ${o.optionsType} = ${o.optionsDef}\n`
dts += '\n'

dts += doc('A local OCI image-layout store. Every method returns a Promise; the work runs off the\nevent loop.')
dts += 'export declare class Store {\n'
dts += doc("Opens the store at `path` (created when missing or empty); without `path`, the default\nstore (`$IDPKIT_STORE`, else the XDG data dir). Throws `code` `'INVALID_INPUT'` when `path`\nis not a store.", '  ')
dts += '  constructor(path?: string | null)\n'
dts += "  /** The store's root directory. */\n  get path(): string\n"
for (const o of ops.filter((o) => o.store)) dts += `${signatures(o, '  ', '')}\n`
dts += '}\n\n'
for (const o of ops.filter((o) => !o.store)) dts += `${signatures(o, '', 'export declare function ')}\n\n`
for (const o of iterators) dts += `${signatures(o, '', 'export declare function ', o.iterate)}\n\n`
for (const o of ops.filter((o) => o.deprecated)) {
  dts += `/** @deprecated Use \`${o.js}\`. */\nexport declare const ${o.deprecated}: typeof ${o.js}\n`
}

// `--check`: fail, naming the file, when a checked-in file differs from what is generated.
const check = process.argv.includes('--check')
let stale = false
for (const [file, text] of [['index.js', js], ['index.mjs', mjs], ['index.d.ts', dts], ['index.d.mts', dmts]]) {
  const path = join(pkg, file)
  if (!check) writeFileSync(path, text)
  else if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
    console.error(`${file} is stale against contract/idpkit.json: run 'npm run gen' in bindings/node and commit it`)
    stale = true
  }
}
if (stale) process.exit(1)
