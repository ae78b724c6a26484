package dev.idpkit

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.nio.file.Path

/** The GitOps fetch: a git revision over HTTPS (the rig's git server behind nginx) into the cache. */
class SourceTest {
    @TempDir
    lateinit var tmp: Path

    private fun options(revision: String) = FetchGitOptions(
        url = Rig.need("nginx", "IDPKIT_RIG_GIT_FIXTURE_HTTPS").also {
            Rig.needListening("nginx (git over HTTPS)", it.removePrefix("https://").substringBefore('/'))
        },
        revision = revision,
        cache = tmp.resolve("cache").toString(),
        caFiles = listOf(Rig.need("nginx", "IDPKIT_RIG_CA")),
        certsD = listOf(Rig.noCertsD(tmp)),
        noPlatformRoots = true,
    )

    private fun credentials(password: String = Rig.need("nginx", "IDPKIT_RIG_GIT_PASSWORD")) =
        Credentials.basic(Rig.need("nginx", "IDPKIT_RIG_GIT_USER"), password)

    @Test
    fun `fetch a git revision, then a cache hit`() {
        val first = Idpkit.sourceFetchGit(options("develop"), credentials())
        assertFalse(first.hit)
        assertEquals("git", first.source)
        assertTrue(first.revision.startsWith("refs/heads/develop@sha1:"), first.revision)
        assertTrue(File(first.path, "DEVELOP.md").isFile, first.path)
        assertTrue(first.files > 0)

        val second = runBlocking { Idpkit.sourceFetchGitAsync(options("develop"), credentials()) }
        assertTrue(second.hit)
        assertEquals(first.path, second.path)
    }

    @Test
    fun `a wrong password is Auth, without the password`() {
        val wrong = "pw-wrong-jvm-4711"
        val e = assertThrows(IdpkitException.Auth::class.java) {
            Idpkit.sourceFetchGit(options("main"), credentials(wrong))
        }
        assertFalse(e.toString().contains(wrong), e.toString())
    }
}
