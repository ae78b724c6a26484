// Mistakes the typings refuse: each `@ts-expect-error` line fails `tsc --noEmit -p examples`
// (tests/suites/50-node.sh) if the call below it starts to type-check, so the per-call option
// types cannot silently widen. Never run; the rest shows the correct forms compile.
import { IdpkitError, Store, copy, listTags, login, loginFromCluster, logout, trustCheck, type ErrorCode } from 'idpkit'

const HOST = 'registry.local:5000'

export async function mistakes(store: Store, signal: AbortSignal): Promise<void> {
  // login takes a user name and password, no bearer token.
  // @ts-expect-error `token` is not an option of login
  await login(HOST, 'ci', 'secret', { token: 'abc' })
  // @ts-expect-error the credentials are login's arguments, not also options
  await login(HOST, 'ci', 'secret', { password: 'other' })
  // @ts-expect-error loginFromCluster reads its credentials from the cluster
  await loginFromCluster(HOST, { context: 'kind-localdev' }, { username: 'ci' })
  // @ts-expect-error trustCheck sends no progress events
  await trustCheck(HOST, { onProgress: () => {} })
  // @ts-expect-error logout is local: no signal
  await logout(HOST, { signal })
  // @ts-expect-error only copy has the source registry's credentials
  await store.push('app:1', `${HOST}/app:1`, { sourcePassword: 'x' })
  // @ts-expect-error an option's name misspelt
  await store.push('app:1', `${HOST}/app:1`, { jobz: 4 })
  // @ts-expect-error a compression the core does not have
  await store.build('.', { compression: 'xz' })
  // @ts-expect-error a number as the repository
  await listTags(42)
  // @ts-expect-error options that are not an object
  await listTags(`${HOST}/app`, 'options')
  // OCI documents keep the image spec's names: no camelCase inside them.
  const { manifest, config } = await store.inspect('app:1')
  // @ts-expect-error the manifest's `mediaType` is not converted to snake_case
  void manifest.media_type
  // @ts-expect-error the config's `Env` keeps its capital
  void config?.config?.env
  // @ts-expect-error `diff_ids` is the config's own name, not camelCased
  void config?.rootfs.diffIds
  // @ts-expect-error the config's `created` is a Date, not a string
  void config?.created?.startsWith('2024')
}

export async function correct(store: Store, signal: AbortSignal): Promise<ErrorCode | undefined> {
  await login(HOST, 'ci', 'secret', { caFiles: ['ca.pem'], signal })
  await copy(`${HOST}/a:1`, `${HOST}/b:1`, { sourceUsername: 'r', sourcePassword: 's', jobs: 2 })
  await store.build('.', { tag: 'app:1', compression: 'zstd', onProgress: (e) => void e.type })
  try {
    await listTags(`${HOST}/app`, { token: 'abc', signal })
  } catch (err) {
    if (err instanceof IdpkitError) {
      const code: ErrorCode = err.code
      // @ts-expect-error napi's codes are no longer idpkit's: wrong types reject INVALID_INPUT
      if (err.code === 'StringExpected') return undefined
      if (code === 'CANCELLED') console.error('cancelled:', err.cause)
      return code
    }
  }
  return undefined
}
