// gitGuardCheck and gitGuardHook on repositories made by the real git: forced, deleting and
// mirroring pushes of a protected branch are blocked in any spelling, a direct push warns, a
// feature branch passes, the hook decides a delete, malformed hook input is INVALID_INPUT.
import { test, describe, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { idpkit, tempDir, rejectsWithCode } from './helpers.mjs'

let repo
before(() => {
  const tmp = tempDir('idpkit-guard-')
  writeFileSync(join(tmp, 'gitconfig'), '')
  // the guard reads the process environment, as git would
  Object.assign(process.env, {
    GIT_CONFIG_GLOBAL: join(tmp, 'gitconfig'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@idpkit.invalid',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@idpkit.invalid',
  })
  repo = join(tmp, 'work')
  const git = (cwd, ...args) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim()
  git(tmp, 'init', '-q', '-b', 'main', 'work')
  writeFileSync(join(repo, 'a'), '1')
  git(repo, 'add', 'a')
  git(repo, 'commit', '-qm', 'one')
  git(repo, 'branch', 'feature')
  git(repo, 'remote', 'add', 'origin', join(tmp, 'origin.git'))
})

describe('gitGuardCheck', () => {
  const cases = [
    [['push', '-f', 'origin', 'main'], 'block', 'force-push'],
    [['push', 'origin', '-uf', 'main'], 'block', 'force-push'],
    [['push', 'origin', '+refs/heads/feature:refs/heads/main'], 'block', 'force-push'],
    [['push', '--force-if-includes', '--force-with-lease', 'origin', 'main'], 'block', 'force-with-lease'],
    [['push', '--delete', 'origin', 'main'], 'block', 'delete'],
    [['-c', 'remote.origin.mirror=true', 'push'], 'block', 'mirror'],
    [['-c', 'alias.p=!git push -f', 'p'], 'block', 'opaque-alias'],
    [['push', 'origin', 'main'], 'warn', 'direct-push'],
    [['update-ref', '-d', 'refs/heads/main'], 'block', 'update-ref'],
  ]
  for (const [args, decision, rule] of cases) {
    test(`${args.join(' ')} -> ${decision} (${rule})`, async () => {
      const v = await idpkit.gitGuardCheck(args, { dir: repo })
      assert.equal(v.decision, decision, JSON.stringify(v))
      assert.equal(v.exitCode, { allow: 0, block: 1, warn: 2 }[decision])
      assert.ok(v.findings.some((f) => f.rule === rule), JSON.stringify(v.findings))
    })
  }

  test('a feature branch passes; aliases and the ref are reported', async () => {
    const ok = await idpkit.gitGuardCheck(['push', '-f', 'origin', 'feature'], { dir: repo })
    assert.equal(ok.decision, 'allow')
    assert.deepEqual(ok.findings, [])
    const v = await idpkit.gitGuardCheck(['-c', 'alias.p=push -f', 'p', 'origin', 'main'], { dir: repo })
    assert.deepEqual(v.aliases, ['p'])
    assert.equal(v.command, 'push')
    assert.equal(v.findings[0].reference, 'refs/heads/main')
  })

  test('the sandbox config sets what is protected', async () => {
    const cfg = join(tempDir('idpkit-guard-cfg-'), 'policy.toml')
    writeFileSync(cfg, '[git_guard]\nprotected = ["trunk"]\n')
    const v = await idpkit.gitGuardCheck(['push', '-f', 'origin', 'main'], { dir: repo, config: cfg })
    assert.equal(v.decision, 'allow')
    assert.equal(v.policyFile, cfg)
  })
})

describe('gitGuardHook', () => {
  test('a delete of main is blocked; garbage is INVALID_INPUT', async () => {
    const head = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim()
    const v = await idpkit.gitGuardHook(`(delete) ${'0'.repeat(40)} refs/heads/main ${head}\n`, { dir: repo })
    assert.equal(v.decision, 'block')
    assert.deepEqual(v.findings.map((f) => f.rule), ['delete'])
    const e = await rejectsWithCode(idpkit.gitGuardHook('garbage\n', { dir: repo }), 'INVALID_INPUT')
    assert.match(e.message, /line 1/)
  })
})
