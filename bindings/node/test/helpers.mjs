// Shared fixtures of the Node tests: temporary stores and build contexts.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'

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

/** Asserts that `promise` rejects with an Error whose code is `code`; returns the error. */
export async function rejectsWithCode(promise, code) {
  try {
    await promise
  } catch (e) {
    seen.errors.push(e)
    if (!(e instanceof Error)) throw new Error(`rejected with a non-Error: ${e}`)
    if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`)
    return e
  }
  throw new Error(`expected a rejection with code ${code}, but the promise resolved`)
}
