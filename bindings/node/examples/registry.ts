// Trusts a local idpbuilder cluster's CA, logs in to its Gitea with the cluster's
// credentials, pushes an image and promotes it to a second tag without moving a blob.
// Type-checked by `npm run typecheck` (tsc --noEmit) with build.ts.
import {
  Store,
  copy,
  inspectRemote,
  trustExtract,
  listTags,
  loginFromCluster,
  logout,
  trustCheck,
  type LoginResult,
  type PushResult,
  type TrustReport,
  type Verdict,
} from 'idpkit'

const GITEA = 'gitea.cnoe.localtest.me:8443'

async function main(image: string): Promise<void> {
  // The CA from Secret default/idpbuilder-cert into ~/.config/idpkit/certs.d/GITEA/ca.crt.
  const ca = await trustExtract({ host: GITEA })
  console.log(`trusting ${ca.subject} (until ${ca.notAfter}) for ${ca.host}: ${ca.path}`)

  const report: TrustReport = await trustCheck(GITEA)
  const verdict: Verdict = report.verdict
  if (verdict !== 'trusted') throw new Error(report.message)
  for (const cert of report.chain) console.log(`  ${cert.subject} <- ${cert.issuer}`)

  // Gitea's admin credentials from Secret gitea/gitea-credential, stored like `docker login`.
  const login: LoginResult = await loginFromCluster(GITEA)
  console.log(`logged in as ${login.username}, stored in ${login.storedIn}`)

  const store = new Store()
  const dev = `${GITEA}/${login.username.toLowerCase()}/${image}:dev`
  const pushed: PushResult = await store.push(dev, null, {
    signal: AbortSignal.timeout(300_000),
    onProgress: (e) => {
      if (e.type === 'blob_done') console.log(`uploaded ${e.digest} (${e.size} bytes)`)
    },
  })
  const promoted = await copy(dev, dev.replace(/:dev$/, ':prod'))
  console.log(`${pushed.digest} is now ${promoted.reference} (${promoted.blobsSkipped} blobs already there)`)
  console.log(await listTags(dev.replace(/:dev$/, '')))

  // A multi-platform image (an OCI index): read it without pulling, then copy every platform.
  const upstream = 'docker.io/library/alpine:3.20'
  const remote = await inspectRemote(upstream, { platform: 'linux/arm64' })
  for (const m of remote.index?.manifests ?? []) {
    const p = m.platform
    console.log(`${m.digest} ${p ? `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}` : '(no platform)'} ${m.size} bytes`)
  }
  console.log(`linux/arm64: ${remote.manifest.layers.length} layer(s), ${remote.config?.architecture}, created ${remote.config?.created?.toISOString()}`)
  const mirrored = await copy(upstream, `${GITEA}/${login.username.toLowerCase()}/alpine:3.20`, { allPlatforms: true })
  console.log(`mirrored the index ${mirrored.digest} (${remote.indexDigest === mirrored.digest ? 'byte for byte' : 'changed'})`)

  if (!(await logout(GITEA))) console.warn('no stored credentials to remove')
}

main(process.argv[2] ?? 'hello').catch((err: unknown) => {
  const code = (err as { code?: string }).code
  if (code === 'AUTH' || code === 'UNTRUSTED') console.error(`${code}: ${(err as Error).message}`)
  process.exitCode = 1
})
