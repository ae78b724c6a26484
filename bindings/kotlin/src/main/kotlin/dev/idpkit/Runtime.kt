package dev.idpkit

import dev.idpkit.uniffi.CallException
import dev.idpkit.uniffi.CancelHandle
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import dev.idpkit.uniffi.Credentials as NativeCredentials
import dev.idpkit.uniffi.EventListener as NativeListener

/**
 * Receives the events of a call (progress, audit) while it runs: from the call's worker
 * threads, one at a time, never after the call returned. It must not call idpkit (that call
 * fails with [IdpkitException.Conflict]). An exception it throws cancels the call, and the
 * call throws that exception instead of its result.
 */
public fun interface EventListener {
    public fun onEvent(event: Event)
}

/**
 * A cancellation flag: [cancel], from any thread, stops every call given this token at its
 * next check point with [IdpkitException.Cancelled] (at once when raised before the call).
 */
public class CancelToken {
    internal val handle: CancelHandle = CancelHandle()

    /** Asks every call holding this token to stop. */
    public fun cancel() {
        handle.cancel()
    }

    /** Whether [cancel] was called. */
    public val isCancelled: Boolean get() = handle.isCancelled()

    override fun toString(): String = "CancelToken(cancelled=$isCancelled)"
}

/**
 * The secrets of a call: a username and password (a Gitea token works as the password) or a
 * registry token, and for `copy` the same for the source registry. They travel beside the
 * options, never inside them, and [toString] never shows them. Without credentials a call
 * uses the stored login (see `login`).
 */
public class Credentials private constructor(
    private val username: String?,
    private val password: String?,
    private val token: String?,
    private val sourceUsername: String?,
    private val sourcePassword: String?,
    private val sourceToken: String?,
) {
    /** The same registry credentials, plus a username and password for the source of `copy`. */
    public fun withSourceBasic(username: String, password: String): Credentials =
        Credentials(this.username, this.password, this.token, username, password, null)

    /** The same registry credentials, plus a token for the source registry of `copy`. */
    public fun withSourceToken(token: String): Credentials =
        Credentials(this.username, this.password, this.token, null, null, token)

    internal fun toNative(): NativeCredentials =
        NativeCredentials(username, password, token, sourceUsername, sourcePassword, sourceToken)

    override fun toString(): String {
        fun show(user: String?, secret: String?, token: String?) = when {
            user != null -> "user $user"
            token != null -> "token <redacted>"
            secret != null -> "<redacted>"
            else -> "none"
        }
        return "Credentials(${show(username, password, token)}, source: ${show(sourceUsername, sourcePassword, sourceToken)})"
    }

    public companion object {
        /** A username and password (or a Gitea token as the password). */
        @JvmStatic
        public fun basic(username: String, password: String): Credentials =
            Credentials(username, password, null, null, null, null)

        /** A registry bearer token, sent as is. */
        @JvmStatic
        public fun token(token: String): Credentials = Credentials(null, null, token, null, null, null)

        /** Only source credentials (for `copy`; the destination's are looked up). */
        @JvmStatic
        public fun sourceBasic(username: String, password: String): Credentials =
            Credentials(null, null, null, username, password, null)
    }
}

/** The one path into the native library, and the JSON of options, results and events. */
internal object Native {
    /** Options: an unset (null) field is left out and takes the core's default. */
    @PublishedApi
    internal val json: Json = Json {
        explicitNulls = false
        encodeDefaults = false
        ignoreUnknownKeys = true
    }

    @PublishedApi
    internal inline fun <reified T> encode(value: T): String = json.encodeToString(value)

    @PublishedApi
    internal inline fun <reified T> decode(text: String): T = json.decodeFromString(text)

    fun openStore(path: String?): String = translate { dev.idpkit.uniffi.storeOpen(path) }

    fun event(text: String): Event =
        try {
            json.decodeFromString(Event.serializer(), text)
        } catch (e: SerializationException) {
            val type = runCatching { json.parseToJsonElement(text).jsonObject["type"]?.jsonPrimitive?.content }
                .getOrNull()
            Event.Unknown(type ?: "", text)
        } catch (e: IllegalArgumentException) {
            Event.Unknown("", text)
        }

    /**
     * Runs `operation` with the store at `storePath` (or none), its options as JSON, and the
     * call's credentials, listener and cancel token. A listener's exception cancels the call
     * and is thrown in place of its outcome; a core error becomes its [IdpkitException].
     */
    fun call(
        operation: String,
        storePath: String?,
        optionsJson: String?,
        credentials: Credentials?,
        listener: EventListener?,
        cancel: CancelToken?,
    ): String {
        var token = cancel
        var bridge: Bridge? = null
        if (listener != null) {
            token = token ?: CancelToken()
            bridge = Bridge(listener, token)
        }
        val result = runCatching {
            translate {
                dev.idpkit.uniffi.call(operation, storePath, optionsJson, credentials?.toNative(), bridge, token?.handle)
            }
        }
        bridge?.failure?.let { throw it }
        return result.getOrThrow()
    }

    private inline fun <T> translate(block: () -> T): T =
        try {
            block()
        } catch (e: CallException.Failed) {
            throw IdpkitException.of(e.code, e.detail)
        }

    /** The native listener of one call: decodes each event and hands it to the user's listener. */
    private class Bridge(val listener: EventListener, val token: CancelToken) : NativeListener {
        @Volatile
        var failure: Throwable? = null

        override fun onEvent(eventJson: String) {
            if (failure != null) return
            try {
                listener.onEvent(event(eventJson))
            } catch (t: Throwable) {
                failure = t
                token.cancel()
            }
        }
    }

    /**
     * Runs a blocking call on [Dispatchers.IO] with a [CancelToken] that the coroutine's
     * cancellation raises; waits for the call to end (so no event arrives after it).
     */
    suspend fun <T> cancellable(block: (CancelToken) -> T): T =
        withContext(Dispatchers.IO) {
            val token = CancelToken()
            val watcher = launch(start = CoroutineStart.UNDISPATCHED) {
                try {
                    awaitCancellation()
                } finally {
                    token.cancel()
                }
            }
            try {
                block(token)
            } finally {
                watcher.cancel()
            }
        }

    suspend fun <T> suspending(block: () -> T): T = withContext(Dispatchers.IO) { block() }
}
