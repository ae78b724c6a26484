// Builds an image from a directory with progress and a timeout, then lists the store.
// Type-checked by `npm run typecheck` (tsc --noEmit); run it after `npm run build` with
// `node --experimental-strip-types examples/build.ts DIR` (Node 22.6+) or compile it first.
import { Store, version, type BuildResult, type IdpkitEvent, type ImageConfig, type ImageSummary } from 'idpkit'

async function main(context: string): Promise<void> {
  const store = new Store(process.env.IDPKIT_STORE ?? '/tmp/idpkit-example-store')
  console.log(`idpkit ${version}, store ${store.path}`)

  const onProgress = (event: IdpkitEvent): void => {
    switch (event.type) {
      case 'layer_progress':
        console.log(`read ${event.files} files, ${event.bytes} bytes`)
        break
      case 'layer_done':
        console.log(`layer ${event.diffId} -> ${event.digest} (${event.size} bytes)`)
        break
      case 'warning':
        console.warn(event.message)
        break
      default:
        break
    }
  }

  try {
    const result: BuildResult = await store.build(context, {
      tags: ['example.com/hello:dev'],
      env: { NODE_ENV: 'production' },
      labels: { 'org.opencontainers.image.source': 'https://example.invalid/hello' },
      cmd: ['node', 'main.js'],
      compression: 'zstd',
      sourceDateEpoch: 1_700_000_000,
      onProgress,
      signal: AbortSignal.timeout(60_000),
    })
    console.log(`built ${result.digest} (${result.cached ? 'cached' : 'fresh'} layer)`)
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'CANCELLED') console.error('build timed out')
    else if (code === 'NOT_FOUND') console.error(`no such context: ${context}`)
    throw err
  }

  const images: ImageSummary[] = await store.images()
  for (const image of images) console.log(image.reference ?? '<untagged>', image.digest, image.size)
  // The manifest and config are typed, under the OCI image spec's own names (`mediaType`,
  // `Env`, `diff_ids`), as a registry serves them; the config's `created` is a Date.
  const { manifest, config } = await store.inspect('example.com/hello:dev')
  console.log(`${manifest.layers.length} layer(s): ${manifest.layers.map((l) => `${l.mediaType} ${l.size}`).join(', ')}`)
  const image: ImageConfig | null | undefined = config
  if (image) {
    console.log(`${image.os}/${image.architecture}, created ${image.created?.toISOString() ?? 'at an unknown time'}`)
    console.log(`env ${(image.config?.Env ?? []).join(' ')}, workdir ${image.config?.WorkingDir ?? '/'}`)
    console.log(`layers (uncompressed): ${image.rootfs.diff_ids.join(', ')}`)
    for (const step of image.history ?? []) console.log(`  ${step.created_by ?? '?'}${step.empty_layer ? ' (no layer)' : ''}`)
  }
  await store.export('example.com/hello:dev', '/tmp/idpkit-example-layout', { tag: 'dev' })
  const report = await store.gc()
  console.log(`gc freed ${report.freedBytes} bytes in ${report.removedBlobs} blobs`)
}

main(process.argv[2] ?? '.').catch(() => {
  process.exitCode = 1
})
