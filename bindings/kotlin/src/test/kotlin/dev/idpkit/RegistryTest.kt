package dev.idpkit

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections
import java.util.UUID

/** Build and push to the rig's plain registry and to its Gitea; tags, pull, a wrong password. */
class RegistryTest {
    @TempDir
    lateinit var tmp: Path

    private val hello: String = Rig.repo.resolve("examples/hello").toString()

    private fun unique(): String = UUID.randomUUID().toString().take(12)

    @Test
    fun `push to the plain registry, list its tags, pull it back`() {
        val registry = Rig.registryPlain()
        val repo = "$registry/jvmtest/hello-${unique()}"
        val store = Store(tmp.resolve("store").toString())
        val built = store.build(BuildOptions(context = hello, tags = listOf("$repo:1")))

        val events = Collections.synchronizedList(mutableListOf<Event>())
        val pushed = store.push(PushOptions(source = "$repo:1"), listener = { events.add(it) })
        assertEquals(built.digest, pushed.digest)
        assertEquals(2L, pushed.blobsUploaded) // layer and config
        val types = events.map { it.type }.toSet()
        assertTrue("manifest_pushed" in types && "blob_done" in types, types.toString())
        assertEquals(pushed.digest, events.filterIsInstance<Event.ManifestPushed>().single().digest)

        store.push(PushOptions(source = "$repo:1", destination = "$repo:2"))
        assertEquals(listOf("1", "2"), Idpkit.listTags(ListTagsOptions(repository = repo)).sorted())

        val other = Store(tmp.resolve("other").toString())
        val pulled = other.pull(RemoteRef(reference = "$repo:2", jobs = 2))
        assertEquals(built.digest, pulled.digest)
        assertThrows(IdpkitException.NotFound::class.java) {
            other.pull(RemoteRef(reference = "$repo:missing", attempts = 1))
        }
    }

    @Test
    fun `a two-platform index is read typed, pulled and copied with every platform`() {
        val registry = Rig.registryPlain()
        val repo = "$registry/jvmtest/multi-${unique()}"
        val store = Store(tmp.resolve("store").toString())
        // One image per platform, pushed by tag; then the index of both, PUT as buildx does.
        val children = listOf("amd64", "arm64").map { arch ->
            val ref = "$repo:$arch"
            val built = store.build(BuildOptions(context = hello, tags = listOf(ref), platform = "linux/$arch"))
            store.push(PushOptions(source = ref))
            val size = Files.size(Path.of(store.path, "blobs", "sha256", built.digest.removePrefix("sha256:")))
            Triple(arch, built.digest, size)
        }
        val index = children.joinToString(
            prefix = """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[""",
            postfix = "]}",
        ) { (arch, digest, size) ->
            """{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$digest","size":$size,""" +
                """"platform":{"os":"linux","architecture":"$arch"}}"""
        }
        val put = HttpClient.newHttpClient().send(
            HttpRequest.newBuilder(URI.create("http://$registry/v2/${repo.substringAfter('/')}/manifests/multi"))
                .header("Content-Type", "application/vnd.oci.image.index.v1+json")
                .PUT(HttpRequest.BodyPublishers.ofString(index))
                .build(),
            HttpResponse.BodyHandlers.discarding(),
        )
        assertEquals(201, put.statusCode())

        // Read without pulling: the index and the chosen platform's manifest and config, typed.
        val seen = Idpkit.inspectRemote(RemoteRef(reference = "$repo:multi", platform = "linux/arm64"))
        val listed = seen.index!!.manifests
        assertEquals(children.map { it.second }, listed.map { it.digest })
        assertEquals(listOf("amd64", "arm64"), listed.map { it.platform!!.architecture })
        assertEquals(children[1].second, seen.digest)
        assertEquals("arm64", seen.config!!.architecture)
        assertEquals(listOf("linux/amd64", "linux/arm64"), seen.platforms)

        // Every platform: the pull keeps the index itself, the copy carries it unchanged.
        val pulled = Store(tmp.resolve("other").toString())
            .pull(RemoteRef(reference = "$repo:multi", allPlatforms = true))
        assertEquals(seen.indexDigest, pulled.digest)
        val copied = Idpkit.copy(CopyOptions(source = "$repo:multi", destination = "$repo:copy", allPlatforms = true))
        assertEquals(seen.indexDigest, copied.digest)
    }

    @Test
    fun `push to Gitea with credentials, a wrong password is Auth and never shown`() {
        val gitea = Rig.gitea()
        val repo = "${gitea.registry}/${gitea.user.lowercase()}/jvmtest-${unique()}"
        val store = Store(tmp.resolve("store").toString())
        val built = store.build(BuildOptions(context = hello, tags = listOf("$repo:1")))
        val trust = PushOptions(
            source = "$repo:1",
            caFiles = listOf(gitea.ca),
            certsD = listOf(Rig.noCertsD(tmp)),
            noPlatformRoots = true,
            attempts = 1,
        )

        val wrong = "wrong-${UUID.randomUUID()}"
        val auth = assertThrows(IdpkitException.Auth::class.java) {
            store.push(trust, Credentials.basic(gitea.user, wrong))
        }
        assertEquals("AUTH", auth.code)
        assertTrue(!auth.toString().contains(wrong) && !auth.message!!.contains(wrong), auth.toString())
        assertTrue(auth.message!!.contains(gitea.registry), auth.message)

        val events = Collections.synchronizedList(mutableListOf<Event>())
        val pushed = store.push(trust, Credentials.basic(gitea.user, gitea.password)) { events.add(it) }
        assertEquals(built.digest, pushed.digest)
        for (e in events) Rig.assertNoSecret(e.toString(), "event ${e.type}")

        val tags = Idpkit.listTags(
            ListTagsOptions(
                repository = repo,
                caFiles = listOf(gitea.ca),
                certsD = listOf(Rig.noCertsD(tmp)),
                noPlatformRoots = true,
            ),
            Credentials.basic(gitea.user, gitea.password),
        )
        assertEquals(listOf("1"), tags)

        // Without the rig's CA the host is not trusted.
        val untrusted = assertThrows(IdpkitException.Untrusted::class.java) {
            store.push(trust.copy(caFiles = null), Credentials.basic(gitea.user, gitea.password))
        }
        Rig.assertNoSecret(untrusted.toString(), "the UNTRUSTED error")
    }

    @Test
    fun `trust check reports the rig's Gitea certificate`() {
        val gitea = Rig.gitea()
        val report = Idpkit.trustCheck(
            TrustCheckOptions(host = gitea.registry, caFiles = listOf(gitea.ca), certsD = listOf(Rig.noCertsD(tmp))),
        )
        assertEquals(Verdict.TRUSTED, report.verdict, report.toString())
    }
}
