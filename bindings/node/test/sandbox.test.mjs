// Sandboxes from Node: a run is a fresh clone of the rig's git fixture over HTTPS (listed, then
// removed with its directory; a wrong password rejects with AUTH and leaves nothing), a Rails
// project plans the Ruby image with postgres, an empty directory falls back to every service,
// its Compose file passes the real `docker-compose config`, and a Job for a git checkout is
// admitted by the rig's kube-apiserver in a dry run. Without the rig these tests fail, naming
// the peer.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { devNull } from 'node:os'
import { dirname, join } from 'node:path'
import { idpkit, tempDir, rejectsWithCode } from './helpers.mjs'
import { need, needFile, requirePeers } from './rig.mjs'

const GEMFILE = `source "https://rubygems.org"

gem "rails", "~> 7.1.3"
gem "pg", "~> 1.5"
`

const GEMFILE_LOCK = `GEM
  remote: https://rubygems.org/
  specs:
    pg (1.5.6)
    rails (7.1.3)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  pg (~> 1.5)
  rails (~> 7.1.3)

BUNDLED WITH
   2.5.6
`

/** The rig's git fixture over HTTPS, its credentials and CA. */
async function gitFixture() {
  const peer = 'nginx'
  const fixture = {
    url: need(peer, 'GIT_FIXTURE_HTTPS'),
    gitDir: need(peer, 'GIT_FIXTURE_DIR'),
    username: need(peer, 'GIT_USER'),
    password: need(peer, 'GIT_PASSWORD'),
    ca: needFile(peer, 'CA'),
  }
  await requirePeers(peer)
  return fixture
}

/** The names under `dir` that do not start with a dot (none when it does not exist). */
function visible(dir) {
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : []
}

const trust = (ca) => ({ caFiles: [ca], noPlatformRoots: true, certsD: [] })

describe('sandbox', () => {
  test('clone over HTTPS, list, remove', async () => {
    const f = await gitFixture()
    const root = join(tempDir('idpkit-sandbox-'), 'runs')
    const run = await idpkit.sandboxClone(f.url, { root, username: f.username, password: f.password, ...trust(f.ca) })
    const head = execFileSync('git', ['--git-dir', f.gitDir, 'rev-parse', 'HEAD^{commit}'], { encoding: 'utf8' }).trim()
    assert.match(run.commit, /^[0-9a-f]{40}$/)
    assert.equal(run.commit, head)
    assert.equal(run.url, f.url)
    assert.equal(dirname(run.dir), root)
    assert.equal(run.checkout, join(run.dir, 'src'))
    for (const name of ['README.md', 'counter.txt', 'log/001.txt']) {
      assert.ok(statSync(join(run.checkout, name)).isFile(), `the checkout holds ${name}`)
    }
    assert.ok(!JSON.stringify(run).includes(f.password))

    const listed = await idpkit.sandboxList({ root })
    assert.deepEqual(listed.runs.map((r) => r.id), [run.id])
    assert.equal(listed.runs[0].commit, run.commit)

    const removed = await idpkit.sandboxRemove(run.id, { root })
    assert.equal(removed.id, run.id)
    assert.equal(existsSync(run.dir), false, `${run.dir} is gone`)
    assert.deepEqual((await idpkit.sandboxList({ root })).runs, [])
    await rejectsWithCode(idpkit.sandboxRemove(run.id, { root }), 'NOT_FOUND')
  })

  test('a wrong password rejects with AUTH and leaves no run', async () => {
    const f = await gitFixture()
    const root = join(tempDir('idpkit-sandbox-'), 'runs')
    const wrong = 'pw-wrong-node-3a7f'
    const e = await rejectsWithCode(
      idpkit.sandboxClone(f.url, { root, username: f.username, password: wrong, ...trust(f.ca) }),
      'AUTH',
    )
    assert.ok(!e.message.includes(wrong), e.message)
    assert.deepEqual((await idpkit.sandboxList({ root })).runs, [])
    assert.deepEqual(visible(root), [])
  })

  test('a Rails project plans the Ruby 3.3 image with postgres', async () => {
    const dir = tempDir('idpkit-sandbox-rails-')
    writeFileSync(join(dir, 'Gemfile'), GEMFILE)
    writeFileSync(join(dir, 'Gemfile.lock'), GEMFILE_LOCK)
    writeFileSync(join(dir, '.ruby-version'), '3.3.1\n')
    const plan = await idpkit.sandboxPlan(dir)
    assert.equal(plan.runtime, 'ruby')
    assert.equal(plan.image, 'claude-sandbox:ruby-3.3')
    assert.equal(plan.version, '3.3.6')
    assert.deepEqual(plan.services.map((s) => s.name), ['postgres'])
    assert.deepEqual(plan.profiles, ['claude', 'with-postgres'])
    assert.equal(plan.fallback, false, plan.fallbackReason ?? '')
  })

  test('an empty directory falls back to every service, saying why', async () => {
    const plan = await idpkit.sandboxPlan(tempDir('idpkit-sandbox-empty-'))
    assert.equal(plan.fallback, true)
    assert.ok(plan.fallbackReason?.trim(), 'a fallback reason')
    assert.deepEqual(plan.services.map((s) => s.name), ['postgres', 'mysql', 'redis'])
  })

  test('the Compose file is written and passes docker-compose config', async () => {
    const tmp = tempDir('idpkit-sandbox-compose-')
    const project = join(tmp, 'project')
    mkdirSync(project)
    const output = join(tmp, 'out', 'compose.yaml')
    mkdirSync(dirname(output))
    const c = await idpkit.sandboxCompose(project, { output })
    assert.ok(c.compose.length > 0)
    assert.equal(readFileSync(output, 'utf8'), c.compose)
    assert.equal(c.file, output)
    assert.equal(c.composeProfiles, 'claude,with-postgres,with-mysql,with-redis')
    const done = spawnSync('docker-compose', ['-f', output, 'config', '-q'], {
      cwd: tmp,
      env: { ...process.env, COMPOSE_PROFILES: c.composeProfiles },
      encoding: 'utf8',
    })
    assert.equal(done.status, 0, `${done.error ?? ''}${done.stdout}${done.stderr}\n--- the file:\n${c.compose}`)
  })

  test('a Job for a git checkout is admitted in a dry run; wait needs apply', async () => {
    const kubeconfig = needFile('kube-apiserver', 'KUBECONFIG')
    await requirePeers('kube-apiserver')
    const tmp = tempDir('idpkit-sandbox-job-')
    const repo = join(tmp, 'shop')
    const env = { ...process.env, GIT_CONFIG_GLOBAL: devNull, GIT_CONFIG_NOSYSTEM: '1' }
    for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_CONFIG_COUNT', 'GIT_CONFIG_PARAMETERS']) delete env[k]
    const git = (...args) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@idpkit.invalid', ...args], { cwd: tmp, env, stdio: 'pipe' })
    git('init', '-q', '-b', 'main', repo)
    writeFileSync(join(repo, 'README.md'), 'shop\n')
    git('-C', repo, 'add', 'README.md')
    git('-C', repo, 'commit', '-qm', 'one')
    git('-C', repo, 'remote', 'add', 'origin', 'https://example.com/org/shop.git')

    const job = await idpkit.sandboxJob(repo, { apply: true, dryRun: true, cluster: { kubeconfig } })
    assert.equal(job.applied, true)
    assert.equal(job.dryRun, true)
    assert.equal(job.uid ?? null, null)
    assert.ok(job.name.startsWith('sandbox-'), job.name)
    assert.ok(job.manifest.includes('restartPolicy: Always'), job.manifest)
    assert.ok(job.manifest.includes('backoffLimit: 0'), job.manifest)
    assert.ok(job.manifest.includes('https://example.com/org/shop.git'), job.manifest)

    const e = await rejectsWithCode(idpkit.sandboxJob(repo, { wait: true }), 'INVALID_INPUT')
    assert.match(e.message, /apply/)
  })

  test('an unknown plan option is INVALID_INPUT naming it', async () => {
    const e = await rejectsWithCode(idpkit.sandboxPlan(tempDir('idpkit-sandbox-opt-'), { configg: 'x.toml' }), 'INVALID_INPUT')
    assert.match(e.message, /configg/)
  })
})
