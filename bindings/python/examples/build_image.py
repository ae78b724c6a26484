"""Build an image from a directory into a local store, then list and export it.

    python examples/build_image.py ./my-app registry.local/team/my-app:dev

The store is $IDPKIT_STORE (default ~/.local/share/idpkit/store); the exported OCI layout
goes to ./my-app-oci, ready for `skopeo copy oci:my-app-oci:dev docker://...`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import idpkit


def show(event: idpkit.Event) -> None:
    if event["type"] == "layer_progress":
        print(f"  read {event['files']} files, {event['bytes'] / 2**20:.1f} MiB", flush=True)
    elif event["type"] == "layer_done":
        print(f"  layer {event['digest'][:19]} ({event['size']} bytes)")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    context, tag = Path(argv[1]), argv[2]
    store = idpkit.Store()
    try:
        result = store.build(
            context,
            tag=tag,
            cmd=["/app/run"],
            env={"APP_ENV": "dev"},
            labels={"org.opencontainers.image.title": context.name},
            excludes=["*.log", ".git"],
            progress=show,
        )
    except idpkit.NotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"built {result.digest} as {', '.join(result.tags)} ({result.size} bytes)")
    info = store.inspect(tag)  # the manifest and config, typed
    if info.config is not None and info.config.config is not None:
        platform = f"{info.config.os}/{info.config.architecture}"
        print(f"  runs {info.config.config.cmd} on {platform}, env {info.config.config.env}")
    print(f"  layers: {', '.join(layer.digest[:19] for layer in info.manifest.layers)}")
    for image in store.images():
        print(f"  {image.reference or '<untagged>'}  {image.digest[:19]}  {image.size}")
    layout = context.with_name(context.name + "-oci")
    store.export(tag, layout)
    print(f"exported to {layout}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
