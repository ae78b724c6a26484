// Local services and the supervisor from Node, with real servers: sandboxUp of a Rails project
// (Gemfile with rails, pg and redis) runs Debian's postgres and redis-server, healthy, with
// their connection variables (psql and redis-cli get answers), process_state events during the
// call and none after it, no password in an event or a message; sandboxStatus and sandboxEnv
// say what the up returned; a second up rejects with CONFLICT; sandboxDown stops both and their
// pids and ports are gone. run of a Procfile in the background is stopped by sandboxDown on its
// state directory; a foreground run whose AbortSignal aborts resolves with its final status
// (stopped, reason "cancelled") after an ordered shutdown. Whatever a test starts is stopped,
// failed or not.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { idpkit, rejectsWithCode } from './helpers.mjs'

const SERVICES_GEMFILE = `source "https://rubygems.org"

gem "rails"
gem "pg"
gem "redis"
`

const dirs = []
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/**
 * A fresh directory of mode 0755, removed when the process exits: as root, postgres runs as
 * the postgres user, which must enter every directory on the way to its data (mkdtemp makes
 * 0700).
 */
function openDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(d, 0o755)
  dirs.push(d)
  return d
}

/** Runs `body`, then stops whatever still runs in `dir`, passed or failed. */
async function stoppedAtEnd(dir, body) {
  try {
    return await body()
  } finally {
    await idpkit.sandboxDown(dir).catch(() => {})
  }
}

/** An `onProgress` that keeps the events, and those that come after the call returned. */
function recorder() {
  const r = {
    events: [],
    late: [],
    returned: false,
    onProgress: (e) => (r.returned ? r.late : r.events).push(e),
    reached: (name, state) => r.events.some((e) => e.type === 'process_state' && e.name === name && e.state === state),
    text: () => JSON.stringify([...r.events, ...r.late]),
  }
  return r
}

/** Whether `pid` ended: no /proc entry, or a zombie. */
function gone(pid) {
  let stat
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return true
  }
  return stat.slice(stat.lastIndexOf(')') + 1).trim().startsWith('Z')
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port) {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port })
    s.setTimeout(1000)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
    s.once('timeout', () => {
      s.destroy()
      resolve(false)
    })
  })
}

async function freePort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function waitUntil(what, check, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(20)
  }
}

/** A Procfile with an HTTP server on a free port and a sleeper, in a directory of its own. */
async function procfile(prefix) {
  const dir = openDir(prefix)
  const port = await freePort()
  const file = join(dir, 'Procfile')
  writeFileSync(file, `web: exec python3 -m http.server ${port} --bind 127.0.0.1\nworker: exec sleep 600\n`)
  return { file, stateDir: join(dir, 'state'), port }
}

const cli = (...args) => execFileSync(args[0], args.slice(1), { encoding: 'utf8', timeout: 20000 }).trim()

describe('supervise', () => {
  test('sandboxUp runs real postgres and redis until sandboxDown', async () => {
    const app = join(openDir('idpkit-node-supervise-'), 'app')
    mkdirSync(app)
    writeFileSync(join(app, 'Gemfile'), SERVICES_GEMFILE)
    await stoppedAtEnd(app, async () => {
      const ev = recorder()
      let up
      try {
        up = await idpkit.sandboxUp(app, { onProgress: ev.onProgress })
      } finally {
        ev.returned = true
      }
      const env = up.env
      const password = env.PGPASSWORD
      const redis = new URL(env.REDIS_URL)
      const secrets = [password, decodeURIComponent(redis.password)]
      assert.ok(password.length >= 16 && secrets[1].length >= 16, 'generated passwords')

      // Both healthy with pids, the connection variables, the 0600 env file.
      assert.deepEqual(up.status.processes.map((p) => p.name), ['postgres', 'redis'])
      for (const p of up.status.processes) {
        assert.equal(p.state, 'healthy', p.name)
        assert.equal(p.ready, true, p.name)
        assert.ok(p.pid > 0 && !gone(p.pid), `${p.name} runs`)
      }
      assert.equal(up.status.state, 'running')
      assert.equal(up.status.pid, process.pid)
      const pgPort = Number(env.PGPORT)
      assert.ok(
        env.DATABASE_URL === `postgres://sandbox:${password}@127.0.0.1:${pgPort}/sandbox_development`,
        'DATABASE_URL is postgres://sandbox:PASSWORD@127.0.0.1:PORT/sandbox_development',
      )
      assert.deepEqual([env.PGHOST, env.PGUSER, env.PGDATABASE], ['127.0.0.1', 'sandbox', 'sandbox_development'])
      assert.deepEqual([redis.protocol, redis.username, redis.hostname], ['redis:', 'default', '127.0.0.1'])
      const redisPort = Number(redis.port)
      assert.ok(redisPort > 0 && redisPort !== pgPort)
      assert.equal(statSync(up.envFile).mode & 0o777, 0o600)

      // Real servers.
      assert.equal(cli('psql', env.DATABASE_URL, '-tAc', 'select 1'), '1')
      assert.equal(cli('redis-cli', '-u', env.REDIS_URL, '--no-auth-warning', 'ping'), 'PONG')

      // Events: each service went healthy during the call (the supervisor sends a change before
      // its status shows it, so even the last one's arrives before sandboxUp resolves), none
      // came after it, none holds a password.
      await sleep(300)
      for (const name of ['postgres', 'redis']) {
        assert.ok(ev.reached(name, 'running'), `a process_state running event for ${name}`)
        assert.ok(ev.reached(name, 'healthy'), `a process_state healthy event for ${name}`)
      }
      assert.equal(ev.late.length, 0, `events after sandboxUp returned: ${ev.late.map((e) => e.type)}`)
      assert.ok(!secrets.some((s) => ev.text().includes(s)), 'an event holds a password')

      // sandboxStatus and sandboxEnv: what the up returned.
      assert.deepEqual(await idpkit.sandboxStatus(app), up.status)
      const got = await idpkit.sandboxEnv(app)
      assert.ok(JSON.stringify(got.env) === JSON.stringify(env), 'sandboxEnv is the up\'s env')
      assert.equal(got.envFile, up.envFile)

      // A second up while it runs.
      const e = await rejectsWithCode(idpkit.sandboxUp(app), 'CONFLICT')
      assert.ok(!secrets.some((s) => e.message.includes(s)), 'the conflict\'s message holds a password')

      // sandboxDown: stopped, with events; pids and ports gone.
      const dev = recorder()
      const down = await idpkit.sandboxDown(app, { onProgress: dev.onProgress })
      dev.returned = true
      assert.equal(down.state, 'stopped')
      assert.equal(down.reason, 'stopped on request')
      assert.deepEqual(
        down.processes.map((p) => [p.name, p.state, p.pid ?? null]),
        [['postgres', 'stopped', null], ['redis', 'stopped', null]],
      )
      assert.ok(dev.reached('postgres', 'stopped') && dev.reached('redis', 'stopped'), 'process_state stopped events')
      assert.ok(!secrets.some((s) => dev.text().includes(s)), 'a down event holds a password')
      for (const p of up.status.processes) assert.ok(gone(p.pid), `${p.name} (pid ${p.pid}) ended`)
      assert.equal(await listening(pgPort), false, 'postgres\'s port refuses')
      assert.equal(await listening(redisPort), false, 'redis\'s port refuses')
      assert.equal((await idpkit.sandboxStatus(app)).state, 'stopped')
    })
  })

  test('run in the background until sandboxDown on its state directory', async () => {
    const { file, stateDir, port } = await procfile('idpkit-node-run-bg-')
    await stoppedAtEnd(stateDir, async () => {
      const st = await idpkit.run(file, { stateDir, background: true, timeoutSeconds: 20 })
      assert.equal(st.state, 'running')
      assert.deepEqual(st.processes.map((p) => [p.name, p.state]), [['web', 'healthy'], ['worker', 'healthy']])
      assert.ok(st.processes.every((p) => p.pid > 0 && !gone(p.pid)))
      await waitUntil(`web listening on ${port}`, () => listening(port))
      assert.equal((await idpkit.sandboxStatus(stateDir)).state, 'running')

      const down = await idpkit.sandboxDown(stateDir)
      assert.equal(down.state, 'stopped')
      assert.ok(down.processes.every((p) => p.state === 'stopped'))
      assert.ok(st.processes.every((p) => gone(p.pid)), 'web and worker ended')
      assert.equal(await listening(port), false)
    })
  })

  test('a foreground run resolves with its final status when its signal aborts', async () => {
    const { file, stateDir, port } = await procfile('idpkit-node-run-fg-')
    await stoppedAtEnd(stateDir, async () => {
      const ev = recorder()
      const ac = new AbortController()
      const running = idpkit.run(file, { stateDir, onProgress: ev.onProgress, signal: ac.signal })
      let pids
      try {
        await waitUntil('web and worker healthy', () => ev.reached('web', 'healthy') && ev.reached('worker', 'healthy'))
        await waitUntil(`web listening on ${port}`, () => listening(port))
        pids = (await idpkit.sandboxStatus(stateDir)).processes.map((p) => p.pid)
      } finally {
        ac.abort()
      }
      const st = await running
      assert.equal(st.state, 'stopped')
      assert.equal(st.reason, 'cancelled')
      assert.deepEqual(st.processes.map((p) => [p.name, p.state, p.pid ?? null]), [['web', 'stopped', null], ['worker', 'stopped', null]])
      assert.ok(ev.reached('web', 'stopped') && ev.reached('worker', 'stopped'), 'process_state stopped events')
      assert.ok(pids.every((pid) => pid > 0 && gone(pid)), 'web and worker ended')
      assert.equal(await listening(port), false)
    })
  })

  test('errors: NOT_FOUND where nothing ran, INVALID_INPUT naming an unknown option', async () => {
    const empty = openDir('idpkit-node-supervise-empty-')
    const e = await rejectsWithCode(idpkit.sandboxStatus(empty), 'NOT_FOUND')
    assert.match(e.message, /no supervisor ran here/)
    await rejectsWithCode(idpkit.sandboxEnv(empty), 'NOT_FOUND')
    const bad = await rejectsWithCode(idpkit.sandboxUp(empty, { servicez: ['redis'] }), 'INVALID_INPUT')
    assert.match(bad.message, /servicez/)
    const badRun = await rejectsWithCode(idpkit.run(join(empty, 'Procfile'), { backgroundd: true }), 'INVALID_INPUT')
    assert.match(badRun.message, /backgroundd/)
  })
})
