package dev.idpkit

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import java.util.Random
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference

/**
 * Cancellation: a CancelToken from another thread, and a cancelled coroutine, stop a build of
 * a large directory quickly with Cancelled, and no event arrives after the call ended.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CancelTest {
    private lateinit var tmp: Path
    private lateinit var large: Path

    /** 96 MiB of incompressible files: a build reads and compresses for seconds. */
    @BeforeAll
    fun writeLargeContext(@TempDir dir: Path) {
        tmp = dir
        large = Files.createDirectories(tmp.resolve("large"))
        val random = Random(7)
        val chunk = ByteArray(4 shl 20)
        for (i in 0 until 24) {
            random.nextBytes(chunk)
            Files.write(large.resolve("blob$i.bin"), chunk)
        }
    }

    private fun options() = BuildOptions(context = large.toString(), noCache = true)

    @Test
    fun `a cancel token stops a blocking build with Cancelled`() {
        val store = Store(tmp.resolve("store-token").toString())
        val token = CancelToken()
        val progressed = CountDownLatch(1)
        val returned = AtomicBoolean(false)
        val late = AtomicInteger()
        val listener = EventListener { e ->
            if (returned.get()) late.incrementAndGet()
            if (e is Event.LayerProgress || e is Event.BuildStarted) progressed.countDown()
        }
        val canceller = Thread {
            progressed.await(30, TimeUnit.SECONDS)
            token.cancel()
        }
        canceller.start()
        val start = System.nanoTime()
        val e = assertThrows(IdpkitException.Cancelled::class.java) {
            store.build(options(), null, token, listener)
        }
        returned.set(true)
        val took = (System.nanoTime() - start) / 1_000_000
        canceller.join()
        assertEquals("CANCELLED", e.code)
        assertTrue(token.isCancelled)
        assertTrue(took < 10_000, "the cancelled build took $took ms")
        Thread.sleep(200)
        assertEquals(0, late.get(), "events after the call returned")

        // Raised before the call: it does not start.
        assertThrows(IdpkitException.Cancelled::class.java) { store.build(options(), cancel = token) }
    }

    @Test
    fun `cancelling the coroutine of a suspend build cancels the call`() = runBlocking {
        val store = Store(tmp.resolve("store-coroutine").toString())
        val started = CompletableDeferred<Unit>()
        val events = AtomicInteger()
        val outcome = AtomicReference<Result<BuildResult>>()
        val running = async(start = CoroutineStart.DEFAULT) {
            outcome.set(
                runCatching {
                    store.buildAsync(options()) { e ->
                        events.incrementAndGet()
                        if (e is Event.BuildStarted) started.complete(Unit)
                    }
                },
            )
        }
        withTimeout(30_000) { started.await() }
        val cancelledAt = System.nanoTime()
        running.cancel()
        // join waits for the native call to have ended (the call's events ended with it).
        withTimeout(10_000) { running.join() }
        val stoppedIn = (System.nanoTime() - cancelledAt) / 1_000_000
        assertTrue(stoppedIn < 5_000, "the build went on $stoppedIn ms after the cancel")
        // The call ended with Cancelled (the coroutine itself ends cancelled).
        val failure = outcome.get().exceptionOrNull()
        assertTrue(failure is IdpkitException.Cancelled, "the build ended with $failure")
        assertTrue(running.isCancelled)
        val after = events.get()
        Thread.sleep(200)
        assertEquals(after, events.get(), "events after the call ended")
    }

    @Test
    fun `a suspend build runs to its result`() = runBlocking {
        val store = Store(tmp.resolve("store-async").toString())
        val hello = Rig.repo.resolve("examples/hello").toString()
        val built = store.buildAsync(BuildOptions(context = hello, tags = listOf("hello:async")))
        assertEquals(built.digest, store.inspectAsync(ImageRef(reference = "hello:async")).digest)
    }
}
