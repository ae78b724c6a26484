package dev.idpkit.examples;

import dev.idpkit.BuildOptions;
import dev.idpkit.BuildResult;
import dev.idpkit.CancelToken;
import dev.idpkit.Credentials;
import dev.idpkit.Event;
import dev.idpkit.EventListener;
import dev.idpkit.IdpkitException;
import dev.idpkit.PushOptions;
import dev.idpkit.PushResult;
import dev.idpkit.Store;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds an OCI image from a directory into an idpkit store and, with {@code --push}, pushes
 * it to a registry: idpkit from plain Java.
 *
 * <pre>
 * java -cp idpkit-0.1.0.jar:lib/* dev.idpkit.examples.BuildAndPush \
 *     [--store DIR] [--tag REF] [--no-cache] [-q] [--time] \
 *     [--push REF [--user NAME] [--ca-file PEM]] CONTEXT_DIR
 * </pre>
 *
 * The password for {@code --user} is read from {@code IDPKIT_PUSH_PASSWORD} (never from the
 * command line). Ctrl-C cancels the running call. Exit status: 0, 1 for an idpkit error (its
 * kind's code is printed), 2 for a usage error. {@code --time} prints how long the build call
 * took (without the JVM's start). bench/ffi.sh times the build against the CLI.
 */
public final class BuildAndPush {
    private BuildAndPush() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the program; returns its exit status (the JUnit test calls this). */
    public static int run(String[] args) {
        String storeDir = null;
        String tag = null;
        String push = null;
        String user = null;
        String caFile = null;
        boolean noCache = false;
        boolean quiet = false;
        boolean time = false;
        String context = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--store" -> storeDir = args[++i];
                case "--tag" -> tag = args[++i];
                case "--push" -> push = args[++i];
                case "--user" -> user = args[++i];
                case "--ca-file" -> caFile = args[++i];
                case "--no-cache" -> noCache = true;
                case "-q" -> quiet = true;
                case "--time" -> time = true;
                default -> context = a;
            }
        }
        if (context == null) {
            System.err.println("usage: BuildAndPush [--store DIR] [--tag REF] [--no-cache] [-q] [--time] "
                    + "[--push REF [--user NAME] [--ca-file PEM]] CONTEXT_DIR");
            return 2;
        }

        CancelToken cancel = new CancelToken();
        Thread onInterrupt = new Thread(cancel::cancel);
        Runtime.getRuntime().addShutdownHook(onInterrupt);
        try {
            Store store = storeDir != null ? new Store(storeDir) : new Store();

            BuildOptions build = new BuildOptions();
            build.setContext(context);
            build.setNoCache(noCache);
            List<String> tags = new ArrayList<>();
            if (tag != null) {
                tags.add(tag);
            }
            if (push != null) {
                tags.add(push);
            }
            build.setTags(tags);
            EventListener progress = quiet ? null : (Event e) -> {
                if (e instanceof Event.LayerDone done) {
                    System.err.printf("layer %s (%d bytes)%n", done.getDigest(), done.getSize());
                } else if (e instanceof Event.BlobDone blob) {
                    System.err.printf("pushed %s%n", blob.getDigest());
                }
            };
            long start = System.nanoTime();
            BuildResult built = store.build(build, null, cancel, progress);
            if (time) {
                System.err.printf("build: %.3f s%n", (System.nanoTime() - start) / 1e9);
            }
            System.out.println(built.getDigest());

            if (push != null) {
                PushOptions options = new PushOptions();
                options.setSource(push);
                if (caFile != null) {
                    options.setCaFiles(List.of(caFile));
                }
                Credentials credentials = null;
                if (user != null) {
                    String password = System.getenv("IDPKIT_PUSH_PASSWORD");
                    if (password == null) {
                        System.err.println("--user needs IDPKIT_PUSH_PASSWORD");
                        return 2;
                    }
                    credentials = Credentials.basic(user, password);
                }
                PushResult pushed = store.push(options, credentials, cancel, progress);
                System.out.printf("%s %s (%d blobs uploaded)%n",
                        pushed.getReference(), pushed.getDigest(), pushed.getBlobsUploaded());
            }
            return 0;
        } catch (IdpkitException.Cancelled e) {
            System.err.println("cancelled");
            return 1;
        } catch (IdpkitException e) {
            System.err.println(e.getCode() + ": " + e.getMessage());
            return 1;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(onInterrupt);
            } catch (IllegalStateException shuttingDown) {
                // The hook is running: it cancels the call.
            }
        }
    }
}
