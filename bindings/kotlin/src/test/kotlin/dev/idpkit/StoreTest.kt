package dev.idpkit

import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import java.util.Collections

/** The store operations, events and errors, on examples/hello (no rig peer needed). */
class StoreTest {
    @TempDir
    lateinit var tmp: Path

    private val hello: String = Rig.repo.resolve("examples/hello").toString()

    @Test
    fun `build tag inspect remove gc export import`() {
        val store = Store(tmp.resolve("store").toString())
        assertEquals(tmp.resolve("store").toString(), store.path)
        val events = Collections.synchronizedList(mutableListOf<Event>())
        val built = store.build(BuildOptions(context = hello, tags = listOf("hello:1")), listener = { events.add(it) })
        assertTrue(built.digest.startsWith("sha256:"), built.digest)
        assertEquals(listOf("hello:1"), built.tags.map { it.substringAfterLast('/') })
        assertTrue(built.entries > 0)

        // Events arrive typed, in order, all before build returned.
        assertTrue(events.first() is Event.BuildStarted, events.toString())
        val done = events.filterIsInstance<Event.LayerDone>().single()
        assertEquals(built.layer.digest, done.digest)
        val stored = events.filterIsInstance<Event.ImageStored>().single()
        assertEquals(built.digest, stored.digest)
        assertEquals("image_stored", stored.type)

        val tagged = store.tag(TagOptions(source = "hello:1", target = "hello:2"))
        assertEquals(built.digest, tagged.digest)
        assertEquals(setOf(built.digest), store.images().map { it.digest }.toSet())

        val inspected = store.inspect(ImageRef(reference = "hello:2"))
        assertEquals(built.digest, inspected.digest)
        // The manifest and config arrive typed, their wire names mapped to Kotlin's.
        assertEquals(2L, inspected.manifest.schemaVersion)
        assertEquals(built.layer.digest, inspected.manifest.layers.single().digest)
        val config = inspected.config!!
        assertEquals(listOf(built.layer.diffId), config.rootfs.diffIds)
        assertEquals("linux", config.os)
        assertTrue(config.history!!.isNotEmpty(), config.toString())

        // export, then import into another store.
        val layout = tmp.resolve("layout").toString()
        store.export(ExportOptions(reference = "hello:1", layout = layout))
        val other = Store(tmp.resolve("other").toString())
        val imported = other.importLayout(ImportOptions(layout = layout))
        assertEquals(listOf(built.digest), imported.map { it.digest })

        assertEquals(2, store.remove(ImageRef(reference = built.digest)).size)
        assertTrue(store.images().isEmpty())
        val gc = store.gc()
        assertTrue(gc.removedBlobs >= 2, gc.toString())
    }

    @Test
    fun `coded errors are subclasses of IdpkitException`() {
        val store = Store(tmp.resolve("store").toString())
        val missing = assertThrows(IdpkitException.NotFound::class.java) {
            store.inspect(ImageRef(reference = "nothing:here"))
        }
        assertEquals("NOT_FOUND", missing.code)
        assertTrue(missing.message!!.contains("nothing"), missing.message)

        val bad = assertThrows(IdpkitException.InvalidInput::class.java) {
            store.build(BuildOptions(context = hello, tags = listOf("Not A Reference")))
        }
        assertEquals("INVALID_INPUT", bad.code)

        val notDir = Files.writeString(tmp.resolve("file"), "x")
        assertThrows(IdpkitException.InvalidInput::class.java) { Store(notDir.toString()) }

        // Every kind of the native library has its class, and the other way round.
        assertEquals(dev.idpkit.uniffi.errorKinds(), IdpkitException.CODES)
        for (code in IdpkitException.CODES) {
            val e = IdpkitException.of(code, "m")
            assertEquals(code, e.code)
            assertEquals("m", e.message)
        }
    }

    @Test
    fun `options arrive in the core as set and unset ones take its defaults`() {
        val resolved = Idpkit.resolveOptions(
            ResolveOptionsOptions(
                operation = "push",
                options = Native.json.parseToJsonElement(
                    Native.encode(PushOptions(source = "a/b:1", jobs = 2, insecureHosts = listOf("h:1"))),
                ),
            ),
        ).jsonObject
        assertEquals("a/b:1", resolved["source"]!!.jsonPrimitive.content)
        assertEquals("2", resolved["jobs"]!!.jsonPrimitive.content)
        assertEquals("5", resolved["attempts"]!!.jsonPrimitive.content) // the core's default
        assertEquals(Idpkit.CONTRACT_VERSION, Idpkit.nativeVersion())
    }

    @Test
    fun `a listener that throws cancels the call and its exception is thrown`() {
        val store = Store(tmp.resolve("store").toString())
        val seen = mutableListOf<String>()
        val thrown = assertThrows(IllegalStateException::class.java) {
            store.build(BuildOptions(context = hello)) { e ->
                seen.add(e.type)
                throw IllegalStateException("listener broke")
            }
        }
        assertEquals("listener broke", thrown.message)
        assertEquals(1, seen.size, seen.toString())
    }

    @Test
    fun `an event type this version does not know arrives as Unknown`() {
        val unknown = Native.event("""{"type":"from_the_future","n":1}""")
        assertEquals(Event.Unknown("from_the_future", """{"type":"from_the_future","n":1}"""), unknown)
        val known = Native.event("""{"type":"blob_done","digest":"sha256:00","size":3}""")
        assertEquals(Event.BlobDone(digest = "sha256:00", size = 3), known)
    }

    @Test
    fun `credentials never show their secrets`() {
        val c = Credentials.basic("user", "s3cret-password").withSourceToken("t0ken-value")
        assertFalse(c.toString().contains("s3cret"), c.toString())
        assertFalse(c.toString().contains("t0ken"), c.toString())
        assertTrue(c.toString().contains("user user"), c.toString())
    }
}
