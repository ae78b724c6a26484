package dev.idpkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.idpkit.examples.BuildAndPush;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The API from Java: the example program (compiled with javac), and typed calls. */
class JavaExampleTest {
    @TempDir Path tmp;

    private static String hello() {
        return Path.of(System.getProperty("user.dir")).resolve("../../examples/hello").normalize().toString();
    }

    @Test
    void theExampleBuildsAndPushesToTheRigRegistry() {
        String registry = System.getenv("IDPKIT_RIG_REGISTRY_PLAIN");
        if (registry == null || registry.isEmpty()) {
            fail("peer registry-plain: IDPKIT_RIG_REGISTRY_PLAIN is not set; start the rig (tests/rig/up)");
        }
        String ref = registry + "/jvmtest/java-example-" + UUID.randomUUID().toString().substring(0, 12) + ":1";
        String store = tmp.resolve("store").toString();
        assertEquals(0, BuildAndPush.run(new String[] {"--store", store, "--push", ref, hello()}));
        ListTagsOptions options = new ListTagsOptions();
        options.setRepository(ref.substring(0, ref.lastIndexOf(':')));
        assertEquals(List.of("1"), Idpkit.listTags(options));
        // A usage error and an idpkit error are exit statuses, not exceptions.
        assertEquals(2, BuildAndPush.run(new String[] {}));
        assertEquals(1, BuildAndPush.run(new String[] {"--store", store, tmp.resolve("missing").toString()}));
    }

    @Test
    void javaCallersCatchTheKindsTheyCareAbout() {
        Store store = new Store(tmp.resolve("store").toString());
        ImageRef missing = new ImageRef("nothing:here");
        IdpkitException.NotFound e = assertThrows(IdpkitException.NotFound.class, () -> store.inspect(missing));
        assertEquals("NOT_FOUND", e.getCode());
        try {
            store.inspect(missing);
            fail("inspect of a missing image returned");
        } catch (IdpkitException err) {
            assertTrue(err instanceof IdpkitException.NotFound);
        }

        BuildOptions options = new BuildOptions();
        options.setContext(hello());
        options.setTags(List.of("hello:java"));
        CancelToken token = new CancelToken();
        List<Event> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        BuildResult built = store.build(options, null, token, events::add);
        assertTrue(built.getDigest().startsWith("sha256:"));
        assertTrue(events.stream().anyMatch(ev -> ev instanceof Event.ImageStored));
        assertEquals(built.getDigest(), store.images().get(0).getDigest());
    }
}
