// Shared fixtures of the Node tests: temporary stores and build contexts.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'

const require = createRequire(import.meta.url)
/** The package under test, loaded the way a user loads it. */
export const idpkit = require('..')

const dirs = []
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(prefix = 'idpkit-node-') {
  const d = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(d)
  return d
}

/** A new, empty store in a temporary directory. */
export function newStore() {
  return new idpkit.Store(join(tempDir(), 'store'))
}

/** A small build context: a few text files, one in a sub-directory. */
export function smallContext(files = { 'hello.txt': 'hello\n', 'app/main.js': 'console.log(1)\n' }) {
  const dir = tempDir('idpkit-ctx-')
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name)
    mkdirSync(join(p, '..'), { recursive: true })
    writeFileSync(p, content)
  }
  return dir
}

let big
/**
 * A context of incompressible files (count x size bytes) that takes a no-cache build at the
 * slowest gzip level a good while, and gives the core many files to check cancellation at.
 */
export function bigContext(count = 96, size = 512 * 1024) {
  if (big) return big
  big = tempDir('idpkit-big-')
  for (let i = 0; i < count; i++) {
    writeFileSync(join(big, `blob-${String(i).padStart(3, '0')}.bin`), randomBytes(size))
  }
  return big
}

/** Options of a deliberately slow build of bigContext(). */
export const slow = { noCache: true, level: 9, threads: 1 }

/**
 * Every error `rejectsWithCode` saw and every event `record` collected in this process, for
 * the checks that no secret ever reaches JavaScript.
 */
export const seen = { errors: [], events: [] }

/** An `onProgress` callback that keeps the events in `seen.events` and in the returned list. */
export function record() {
  const events = []
  const onProgress = (e) => {
    events.push(e)
    seen.events.push(e)
  }
  return { events, onProgress }
}

/** Asserts that `promise` rejects with an IdpkitError whose code is `code`; returns the error. */
export async function rejectsWithCode(promise, code) {
  try {
    await promise
  } catch (e) {
    seen.errors.push(e)
    if (!(e instanceof idpkit.IdpkitError)) throw new Error(`rejected with a non-IdpkitError: ${e}`)
    if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`)
    return e
  }
  throw new Error(`expected a rejection with code ${code}, but the promise resolved`)
}

/**
 * The entry names of an uncompressed tar, in order and as `tar -t` prints them (directories
 * end with `/`). Reads ustar headers, with a pax `path` or a GNU long name overriding the
 * header's name; a header whose checksum does not add up fails the test.
 */
export function tarEntries(tar) {
  const names = []
  let override = null
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512)
    if (h.every((b) => b === 0)) break
    const field = (from, to) => {
      const f = h.subarray(from, to)
      const nul = f.indexOf(0)
      return f.subarray(0, nul < 0 ? f.length : nul).toString('utf8')
    }
    let sum = 0
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]
    if (parseInt(field(148, 156).trim(), 8) !== sum) throw new Error(`bad tar header checksum at offset ${off}`)
    const size = parseInt(field(124, 136).trim() || '0', 8)
    const type = field(156, 157) || '0'
    const body = tar.subarray(off + 512, off + 512 + size)
    off += 512 + Math.ceil(size / 512) * 512
    if (type === 'x') {
      const m = body.toString('utf8').match(/(?:^|\n)\d+ path=([^\n]*)\n/)
      if (m) override = m[1]
      continue
    }
    if (type === 'L') {
      override = body.toString('utf8').replace(/\0[^]*$/, '')
      continue
    }
    if (type === 'g') continue
    const prefix = field(257, 263) === 'ustar' ? field(345, 500) : '' // POSIX ustar only, not GNU's 'ustar '
    names.push(override ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100)))
    override = null
  }
  return names
}

/**
 * The entry names of a gzip layer of `store` (`<store>/blobs/sha256/<hex>`), after checking
 * that the uncompressed tar hashes to `diffId` when one is given.
 */
export function gzipLayerEntries(store, digest, diffId) {
  const blob = readFileSync(join(store.path, 'blobs', 'sha256', digest.replace(/^sha256:/, '')))
  // A layer may be several concatenated gzip members; gunzipSync reads them all.
  const tar = gunzipSync(blob)
  if (diffId !== undefined) {
    const actual = `sha256:${createHash('sha256').update(tar).digest('hex')}`
    if (actual !== diffId) throw new Error(`layer ${digest} uncompresses to ${actual}, not its diffId ${diffId}`)
  }
  return tarEntries(tar)
}

/** A TCP server that accepts connections and never answers: only cancellation ends a call. */
export async function silentServer() {
  const held = []
  const server = createServer((socket) => held.push(socket))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: `127.0.0.1:${server.address().port}`,
    close() {
      held.forEach((s) => s.destroy())
      server.close()
    },
  }
}
