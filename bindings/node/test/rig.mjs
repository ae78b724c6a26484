// The test rig's peers: tests/rig/up writes their endpoints and credentials to .rig/rig.env
// ($IDPKIT_RIG_DIR/rig.env). A test that needs a peer fails, naming it, when the peer is
// missing or not answering: the rig is part of the test setup, never a reason to skip.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'

const here = import.meta.dirname ?? new URL('.', import.meta.url).pathname
const rigDir = process.env.IDPKIT_RIG_DIR || join(here, '..', '..', '..', '.rig')
const START = 'start the rig with tests/rig/up'

/** rig.env's IDPKIT_RIG_* variables (without the prefix); the environment wins. */
function load() {
  const out = {}
  const file = join(rigDir, 'rig.env')
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = line.match(/^export IDPKIT_RIG_(\w+)='(.*)'$/)
      if (m) out[m[1]] = m[2].replaceAll("'\\''", "'")
    }
  }
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('IDPKIT_RIG_') && v) out[k.slice('IDPKIT_RIG_'.length)] = v
  }
  return out
}

export const env = load()

/** Which variable gives the address each peer listens at. */
const PEERS = {
  'registry-plain': 'REGISTRY_PLAIN',
  'registry-tls': 'REGISTRY_TLS',
  nginx: 'TLS_EXPIRED_URL',
  'kube-apiserver': 'KUBE_URL',
  gitea: 'GITEA_HTTP_URL',
}

/** `host:port` of `https://host:port/path` or of `host:port`. */
export function hostPort(urlOrHost) {
  return urlOrHost.replace(/^[a-z]+:\/\//, '').split('/')[0]
}

function listening(address) {
  const i = address.lastIndexOf(':')
  return new Promise((resolve) => {
    const socket = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(3000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** The value of rig.env's `name`, or a test failure naming `peer`. */
export function need(peer, name) {
  const v = env[name]
  if (!v) assert.fail(`peer ${peer}: IDPKIT_RIG_${name} is not set (no ${join(rigDir, 'rig.env')}?): ${START}`)
  return v
}

/** A file named by rig.env's `name`, or a test failure naming `peer`. */
export function needFile(peer, name) {
  const p = need(peer, name)
  if (!existsSync(p)) assert.fail(`peer ${peer}: IDPKIT_RIG_${name}=${p} does not exist: ${START}`)
  return p
}

/** Fails the test, naming the first peer that is not answering. */
export async function requirePeers(...peers) {
  for (const peer of peers) {
    const address = hostPort(need(peer, PEERS[peer]))
    if (!(await listening(address))) assert.fail(`peer ${peer} is not answering at ${address}: ${START}`)
  }
}

/** The rig's TLS registry (htpasswd auth, certificate from the rig CA). */
export async function tlsRegistry() {
  await requirePeers('registry-tls')
  return {
    host: need('registry-tls', 'REGISTRY_TLS'),
    user: need('registry-tls', 'REGISTRY_USER'),
    password: need('registry-tls', 'REGISTRY_PASSWORD'),
    ca: needFile('registry-tls', 'CA'),
  }
}

/** The rig's plain-HTTP registry (no auth). */
export async function plainRegistry() {
  await requirePeers('registry-plain')
  return need('registry-plain', 'REGISTRY_PLAIN')
}

/**
 * The rig's kube-apiserver (idpbuilder's Secrets) and Gitea behind nginx. `ca` is the
 * certificate idpbuilder creates and nginx serves for Gitea: one self-signed ECDSA
 * certificate with CA:TRUE served as the leaf, not signed by the rig CA; the Secrets
 * default/idpbuilder-cert and ingress-nginx/idpbuilder-cert hold exactly these bytes.
 */
export async function cluster() {
  await requirePeers('kube-apiserver', 'nginx', 'gitea')
  return {
    kubeconfig: needFile('kube-apiserver', 'KUBECONFIG'),
    giteaRegistry: need('gitea', 'GITEA_REGISTRY'),
    giteaUser: need('gitea', 'GITEA_USER'),
    ca: needFile('gitea', 'GITEA_CA'),
  }
}

/**
 * Every rig secret by the name it is known under, with the base64 `user:secret` forms a
 * basic-auth header or a Docker config holds. Values shorter than 8 characters would match
 * by accident and are left out (the rig's are 32 characters or more).
 */
export function secrets() {
  const out = {}
  for (const name of ['REGISTRY_PASSWORD', 'GITEA_PASSWORD', 'GITEA_TOKEN', 'GITEA_REGISTRY_TOKEN', 'KUBE_TOKEN', 'GIT_PASSWORD']) {
    if (env[name]) out[`IDPKIT_RIG_${name}`] = env[name]
  }
  for (const [user, secret] of [
    ['REGISTRY_USER', 'REGISTRY_PASSWORD'],
    ['GITEA_USER', 'GITEA_PASSWORD'],
    ['GITEA_USER', 'GITEA_TOKEN'],
  ]) {
    if (env[user] && env[secret]) {
      out[`base64(${user}:${secret})`] = Buffer.from(`${env[user]}:${env[secret]}`).toString('base64')
    }
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v.length >= 8))
}

/** Fails when a rig secret (or `extra` secret) occurs in `text`, without printing it. */
export function assertNoSecret(text, what, extra = {}) {
  for (const [name, value] of Object.entries({ ...secrets(), ...extra })) {
    if (value && text.includes(value)) assert.fail(`${what} reveals ${name}: ${text.replaceAll(value, `<${name}>`)}`)
  }
}

/** One request to the rig's kube-apiserver with its bearer token, trusting the rig CA: `{ status, text }`. */
async function kubeRequest(method, path, body, contentType) {
  await requirePeers('kube-apiserver')
  const url = new URL(`${need('kube-apiserver', 'KUBE_URL')}${path}`)
  const headers = { authorization: `Bearer ${need('kube-apiserver', 'KUBE_TOKEN')}` }
  if (body !== undefined) {
    headers['content-type'] = contentType
    headers['content-length'] = Buffer.byteLength(body)
  }
  return await new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method, ca: readFileSync(needFile('kube-apiserver', 'CA')), timeout: 30_000, headers },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode, text }))
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end(body)
  })
}

/** Server-side applies `obj` at `path` of the rig's kube-apiserver, as tests/rig/up does (its bearer token, the rig CA). */
export async function kubeApply(path, obj) {
  const { status, text } = await kubeRequest(
    'PATCH',
    `${path}?fieldManager=idpkit-test&force=true`,
    JSON.stringify(obj),
    'application/apply-patch+yaml',
  )
  if (status !== 200 && status !== 201) assert.fail(`apply ${path}: HTTP ${status}: ${text.slice(0, 600)}`)
}

/** The object at `path` of the rig's kube-apiserver (the tests' own reader), or null when it does not exist. */
export async function kubeGet(path) {
  const { status, text } = await kubeRequest('GET', path)
  if (status === 404) return null
  if (status !== 200) assert.fail(`get ${path}: HTTP ${status}: ${text.slice(0, 600)}`)
  return JSON.parse(text)
}
