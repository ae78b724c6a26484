// Secrets through the binding: a file encrypted by the rig's real sops for a key from the real
// age-keygen decrypts to its values, a tampered one rejects with code INTEGRITY, dotenv text
// parses by dotenv's rules ($(rm -rf ~) stays text), and secretsPush creates a Secret on the
// rig's kube-apiserver, read back with the tests' own client. Without the rig these tests
// fail, naming the peer.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { inspect } from 'node:util'
import { fileURLToPath } from 'node:url'
import { idpkit, tempDir, rejectsWithCode } from './helpers.mjs'
import { needFile, kubeApply, kubeGet } from './rig.mjs'

const NS = 'idpkit-node-secrets-test'

/** A fresh age identity from the real age-keygen, and a way to encrypt for it with the rig's sops. */
function kit() {
  const sops = needFile('sops (rig tool)', 'SOPS')
  const dir = tempDir('idpkit-secrets-')
  const keyFile = join(dir, 'keys.txt')
  try {
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' })
  } catch (e) {
    assert.fail(`age-keygen failed or is not installed (the rig's setup installs it): ${e.message}`)
  }
  const recipient = readFileSync(keyFile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('# public key: '))
    .slice('# public key: '.length)
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SOPS_AGE_')))
  const encrypt = (name, plain) => {
    const kind = name.endsWith('.yaml') ? 'yaml' : 'dotenv'
    const src = join(dir, `plain-${name}`)
    writeFileSync(src, plain)
    const out = execFileSync(sops, ['encrypt', '--age', recipient, '--input-type', kind, '--output-type', kind, src], { env })
    unlinkSync(src)
    const dst = join(dir, name)
    writeFileSync(dst, out)
    return dst
  }
  return { dir, keyFile, encrypt }
}

describe('secrets', () => {
  test('decrypt gives the values; a tampered file rejects with INTEGRITY', async () => {
    const k = kit()
    const f = k.encrypt('.env.sops', 'DB_PASSWORD=node-hunter2-5b7a\nCMD=$(rm -rf ~)\n')
    const got = await idpkit.secretsDecrypt(f, { ageKeyFile: k.keyFile })
    assert.equal(got.format, 'dotenv')
    assert.equal(got.encrypted, true)
    assert.deepEqual(got.values, { DB_PASSWORD: 'node-hunter2-5b7a', CMD: '$(rm -rf ~)' })

    const text = readFileSync(f, 'utf8')
    const mac = text.split('\n').find((l) => l.startsWith('sops_mac='))
    const at = mac.indexOf('data:') + 5
    const flipped = mac.slice(0, at) + (mac[at] === 'A' ? 'B' : 'A') + mac.slice(at + 1)
    const tampered = join(k.dir, 'tampered.env')
    writeFileSync(tampered, text.replace(mac, flipped))
    const e = await rejectsWithCode(idpkit.secretsDecrypt(tampered, { ageKeyFile: k.keyFile }), 'INTEGRITY')
    assert.ok(!`${e.message} ${e.stack}`.includes('node-hunter2-5b7a'), e.message)
  })

  test('parse keeps $(rm -rf ~) as text, in file order', async () => {
    const got = await idpkit.secretsParse('B=2\nCMD=$(rm -rf ~)\nA="${B} x"\ndb_user=me\n')
    assert.deepEqual(got.values, { B: '2', CMD: '$(rm -rf ~)', A: '2 x', db_user: 'me' })
    assert.deepEqual(Object.keys(got.values), ['B', 'CMD', 'A', 'db_user'], 'file order; the file\'s own key names')
    const e = await rejectsWithCode(idpkit.secretsParse('A=1\nB="node-open-19c4\n', { origin: '.env.local' }), 'INVALID_INPUT')
    assert.ok(e.message.startsWith('.env.local line 2:'), e.message)
    assert.ok(!e.message.includes('node-open-19c4'), e.message)
  })

  test('printing a result never shows a value; JSON and property access still do', async () => {
    const got = await idpkit.secretsParse('DB_PASSWORD=node-print-7d21\n')
    assert.equal(got.values.DB_PASSWORD, 'node-print-7d21')
    assert.ok(JSON.stringify(got).includes('node-print-7d21'))
    for (const shown of [inspect(got), inspect(got, { depth: 10, showHidden: true }), `${inspect({ nested: got })}`]) {
      assert.ok(!shown.includes('node-print-7d21'), shown)
      assert.ok(shown.includes('[redacted]'), shown)
    }
    // Every result field the contract marks x-secret is one the runtime hides.
    const contract = JSON.parse(readFileSync(fileURLToPath(new URL('../../../contract/idpkit.json', import.meta.url)), 'utf8'))
    const secret = new Set()
    const walk = (v, key) => {
      if (Array.isArray(v)) v.forEach((x) => walk(x))
      else if (v && typeof v === 'object') {
        if (v['x-secret'] === true && key) secret.add(key)
        for (const [k, x] of Object.entries(v)) walk(x, k)
      }
    }
    walk(contract)
    secret.delete('text') // an option the caller passes in, never printed by idpkit
    assert.deepEqual([...secret].sort(), ['values'])
  })

  test('push creates the Secret, and a second push drops a removed key', async () => {
    const k = kit()
    const kubeconfig = needFile('kube-apiserver', 'KUBECONFIG')
    await kubeApply(`/api/v1/namespaces/${NS}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })
    const plain = join(k.dir, '.env.claude-sandbox')
    writeFileSync(plain, 'SHARED=node-plain-6e01\nPLAIN_ONLY=node-plain-only-c2d4\n')
    const enc = k.encrypt('.env.sops', 'SHARED=node-sops-a8f3\n')
    const name = `node-push-${process.pid}-${randomUUID().slice(0, 6)}`
    const got = await idpkit.secretsPush(NS, name, [plain, enc], { ageKeyFile: k.keyFile, cluster: { kubeconfig } })
    assert.deepEqual(
      { namespace: got.namespace, name: got.name, created: got.created, keys: got.keys },
      { namespace: NS, name, created: true, keys: ['PLAIN_ONLY', 'SHARED'] },
    )
    assert.ok(!JSON.stringify(got).includes('node-sops-a8f3'))
    let secret = await kubeGet(`/api/v1/namespaces/${NS}/secrets/${name}`)
    assert.ok(secret, 'the Secret exists')
    const data = Object.fromEntries(Object.entries(secret.data).map(([key, v]) => [key, Buffer.from(v, 'base64').toString()]))
    assert.deepEqual(data, { PLAIN_ONLY: 'node-plain-only-c2d4', SHARED: 'node-sops-a8f3' })
    assert.equal(secret.metadata.labels['app.kubernetes.io/managed-by'], 'idpkit')
    assert.equal(secret.metadata.resourceVersion, got.resourceVersion)

    const again = await idpkit.secretsPush({ namespace: NS, name, files: [enc], ageKeyFile: k.keyFile, cluster: { kubeconfig } })
    assert.equal(again.created, false)
    assert.deepEqual(again.keys, ['SHARED'])
    secret = await kubeGet(`/api/v1/namespaces/${NS}/secrets/${name}`)
    assert.deepEqual(Object.keys(secret.data), ['SHARED'])

    // The files are a list of paths, checked before anything is read.
    const e = await rejectsWithCode(idpkit.secretsPush(NS, name, enc), 'INVALID_INPUT')
    assert.match(e.message, /`files` must be an array/)
  })
})
