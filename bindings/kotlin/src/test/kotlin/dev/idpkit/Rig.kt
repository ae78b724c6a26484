package dev.idpkit

import org.junit.jupiter.api.Assertions.fail
import java.io.File
import java.net.InetSocketAddress
import java.net.Socket
import java.nio.file.Files
import java.nio.file.Path

/**
 * The test rig's peers (tests/rig/up writes their endpoints to .rig/rig.env, which
 * tests/suites/70-jvm.sh sources). A test that needs a peer fails, naming it, when it is
 * missing: the rig is part of the test setup, never a reason to skip.
 */
object Rig {
    /** The rig variables holding secrets: none may appear in an exception or event. */
    val SECRET_VARIABLES = listOf(
        "IDPKIT_RIG_REGISTRY_PASSWORD",
        "IDPKIT_RIG_GITEA_PASSWORD",
        "IDPKIT_RIG_GITEA_TOKEN",
        "IDPKIT_RIG_GITEA_REGISTRY_TOKEN",
    )

    val repo: Path = Path.of(System.getProperty("user.dir")).resolve("../..").normalize()

    /** The value of a rig.env variable, or a failure naming the peer it belongs to. */
    fun need(peer: String, variable: String): String {
        val v = System.getenv(variable)
        if (v.isNullOrEmpty()) {
            fail<Unit>("peer $peer: $variable is not set; start the rig (tests/rig/up) and source .rig/rig.env (tests/suites/70-jvm.sh does)")
        }
        return v!!
    }

    /** Fails naming the peer when nothing listens at `host:port`. */
    fun needListening(peer: String, hostPort: String) {
        val host = hostPort.substringBeforeLast(':')
        val port = hostPort.substringAfterLast(':').toInt()
        try {
            Socket().use { it.connect(InetSocketAddress(host, port), 3000) }
        } catch (e: Exception) {
            fail<Unit>("peer $peer is not answering at $hostPort ($e): start the rig (tests/rig/up)")
        }
    }

    /** The plain-HTTP registry without auth (`host:port`). */
    fun registryPlain(): String =
        need("registry-plain", "IDPKIT_RIG_REGISTRY_PLAIN").also { needListening("registry-plain", it) }

    /** Gitea's registry (`host:port`, TLS behind nginx), its user and password, its CA. */
    data class Gitea(val registry: String, val user: String, val password: String, val ca: String)

    fun gitea(): Gitea {
        val registry = need("gitea", "IDPKIT_RIG_GITEA_REGISTRY")
        needListening("nginx (in front of gitea)", "127.0.0.1:" + registry.substringAfterLast(':'))
        val http = need("gitea", "IDPKIT_RIG_GITEA_HTTP_URL").removePrefix("http://")
        needListening("gitea", http)
        val ca = need("gitea", "IDPKIT_RIG_GITEA_CA")
        if (!File(ca).isFile) fail<Unit>("peer gitea: IDPKIT_RIG_GITEA_CA names no file; start the rig (tests/rig/up)")
        return Gitea(registry, need("gitea", "IDPKIT_RIG_GITEA_USER"), need("gitea", "IDPKIT_RIG_GITEA_PASSWORD"), ca)
    }

    /** Fails when a rig secret occurs in `text`, without printing the secret. */
    fun assertNoSecret(text: String, what: String) {
        for (name in SECRET_VARIABLES) {
            val value = System.getenv(name) ?: continue
            if (value.length >= 8 && text.contains(value)) {
                fail<Unit>("$what reveals $name: ${text.replace(value, "<$name>")}")
            }
        }
    }

    /** An empty certs.d root: no certificate of the machine's own configuration is used. */
    fun noCertsD(tmp: Path): String = Files.createDirectories(tmp.resolve("no-certs.d")).toString()
}
