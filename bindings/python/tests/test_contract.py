"""The Python surface against the call contract (contract/idpkit.json, read at test time):
every operation is here with the core's option names and defaults, every option a user sets
arrives in the core (seen through resolve_options), and a wrong field is named."""

from __future__ import annotations

import inspect
import json
import keyword
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

import idpkit
from idpkit import _idpkit

CONTRACT_PATH = Path(__file__).resolve().parents[3] / "contract" / "idpkit.json"

#: Parameters of a Python operation that are not options: the call's credentials, events and
#: cancel token, and build's `tag` (added up with `tags`, as the Node binding does).
CALL_PARAMETERS = {
    "self",
    "username",
    "password",
    "token",
    "source_username",
    "source_password",
    "source_token",
    "progress",
    "cancel",
}


def contract() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
    return doc


def operation(name: str) -> dict[str, Any]:
    for op in contract()["operations"]:
        if op["name"] == name:
            found: dict[str, Any] = op
            return found
    raise AssertionError(f"the contract has no operation {name}")


def python_callable(op: dict[str, Any]) -> Callable[..., Any]:
    name = op["name"] + "_" if keyword.iskeyword(op["name"]) else op["name"]
    fn: Callable[..., Any] = getattr(idpkit.Store if op["needs_store"] else idpkit, name)
    return fn


@pytest.mark.parametrize("name", [op["name"] for op in contract()["operations"]])
def test_every_operation_takes_the_cores_options(name: str) -> None:
    """Each operation is a Python function (or Store method) whose option parameters are
    exactly the contract's option fields (``from`` is ``from_``), defaulting to the core's
    default (``None`` where that is an empty list, map or nested object)."""
    op = operation(name)
    params = inspect.signature(python_callable(op)).parameters
    options = {
        p.rstrip("_") if keyword.iskeyword(p.rstrip("_")) else p: v for p, v in params.items()
    }
    options = {k: v for k, v in options.items() if k not in CALL_PARAMETERS}
    if name == "build":
        assert params["tag"].kind is inspect.Parameter.KEYWORD_ONLY
        del options["tag"]
    defaults: dict[str, Any] = op["defaults"]
    assert set(options) == set(defaults), name
    for field, param in options.items():
        core = defaults[field]
        if param.default is inspect.Parameter.empty:  # required positional: a "" default
            assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, (name, field)
            assert isinstance(core, str), (name, field)
        elif isinstance(core, (list, dict)) or core is None:
            assert param.default is None, (name, field)
        else:
            assert param.default == core and type(param.default) is type(core), (name, field)


def test_the_native_module_runs_every_operation_of_the_contract() -> None:
    assert idpkit.__version__ == contract()["version"]
    assert [k["code"] for k in contract()["error_kinds"]] == _idpkit.ERROR_KINDS
    for op in contract()["operations"]:
        # Without options each operation resolves to its contract defaults.
        assert idpkit.resolve_options(op["name"]) == op["defaults"], op["name"]


class Resolved(Exception):
    """Raised by the intercepted native call with the options the core resolved."""

    def __init__(self, operation: str, document: str, resolved: Any) -> None:
        super().__init__(operation)
        self.operation, self.document, self.resolved = operation, document, resolved


@pytest.fixture
def resolve_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every operation called through the Python surface is resolved by the core instead of
    run: the options JSON Python built goes to resolve_options, and the result is raised as
    :class:`Resolved`."""
    real = _idpkit.call

    def intercept(operation: str, store: Any, options_json: str | None, *rest: Any) -> str:
        doc = {"operation": operation, "options": json.loads(options_json or "{}")}
        raise Resolved(
            operation,
            options_json or "",
            json.loads(real("resolve_options", None, json.dumps(doc))),
        )

    monkeypatch.setattr(_idpkit, "call", intercept)
    yield


def non_default(field: str, default: Any, schema: dict[str, Any]) -> Any:
    """A value of ``field`` different from its default, of the schema's type."""
    types = schema.get("type")
    types = {types} if isinstance(types, str) else set(types or [])
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 7
    if "array" in types:
        return ["/tmp/idpkit-test/" + field]
    if "string" in types:
        return "linux/arm64" if field == "platform" else "value-of-" + field
    raise AssertionError(f"no non-default value for {field} ({schema})")


#: How each operation taking registry options is called, given those options as keywords.
REGISTRY_CALLS: dict[str, Callable[[idpkit.Store, dict[str, Any]], object]] = {
    "push": lambda s, kw: s.push("r.example/app:1", token="tok-secret-123", **kw),
    "pull": lambda s, kw: s.pull("r.example/app:1", username="u", password="pw-secret-1", **kw),
    "list_tags": lambda s, kw: idpkit.list_tags("r.example/app", **kw),
    "catalog": lambda s, kw: idpkit.catalog("r.example", **kw),
    "copy": lambda s, kw: idpkit.copy("r.example/a:1", "r.example/b:1", **kw),
    "delete": lambda s, kw: idpkit.delete("r.example/a:1", **kw),
    "login": lambda s, kw: idpkit.login("r.example", username="u", password="pw-secret-2", **kw),
    "login_from_cluster": lambda s, kw: idpkit.login_from_cluster("r.example", **kw),
    "trust_check": lambda s, kw: idpkit.trust_check("r.example", **kw),
    "build": lambda s, kw: s.build(".", pull=idpkit.RegistryOptions(**kw)),
}


@pytest.mark.usefixtures("resolve_only")
@pytest.mark.parametrize("name", sorted(REGISTRY_CALLS))
def test_every_registry_option_arrives_in_the_core(store: idpkit.Store, name: str) -> None:
    """Every RegistryOptions field of the contract (those an operation has: trust_check takes
    the trust ones), set to a value other than its default through the Python keywords,
    arrives in the core with that value; the credentials never travel in the options."""
    c = contract()
    fields: dict[str, Any] = c["$defs"]["RegistryOptions"]["properties"]
    defaults: dict[str, Any] = operation("push")["defaults"]
    op_defaults: dict[str, Any] = operation(name)["defaults"]
    if name == "build":
        op_defaults = op_defaults["pull"]
    given = {f: non_default(f, defaults[f], s) for f, s in fields.items() if f in op_defaults}
    if name == "trust_check":  # TrustOptions: the trust fields of RegistryOptions
        assert set(given) == {"insecure_hosts", "ca_files", "certs_d", "no_platform_roots"}
    else:
        assert set(given) == set(fields), name
    with pytest.raises(Resolved) as seen:
        REGISTRY_CALLS[name](store, given)
    assert seen.value.operation == name
    resolved = seen.value.resolved["pull"] if name == "build" else seen.value.resolved
    for field, value in given.items():
        assert value != defaults[field], field
        assert resolved[field] == value, field
    for secret in ("tok-secret-123", "pw-secret-1", "pw-secret-2"):
        assert secret not in seen.value.document


@pytest.mark.usefixtures("resolve_only")
def test_build_options_arrive_in_the_core(store: idpkit.Store) -> None:
    given: dict[str, Any] = {
        "annotations": {"a": "1"},
        "cmd": ["/bin/run"],
        "compression": "zstd",
        "entrypoint": ["/bin/sh", "-c"],
        "env": {"MODE": "prod"},
        "excludes": ["*.log"],
        "from_": "base:1",
        "labels": {"team": "platform"},
        "level": 9,
        "no_cache": True,
        "platform": "linux/arm64",
        "prefix": "/srv",
        "source_date_epoch": 1_700_000_000,
        "threads": 2,
        "user": "1000",
        "workdir": "/srv",
    }
    with pytest.raises(Resolved) as seen:
        store.build(Path("/ctx"), tag="app:1", tags=["app:2"], **given)
    resolved = seen.value.resolved
    defaults = operation("build")["defaults"]
    for field, value in given.items():
        core = field.rstrip("_")
        assert resolved[core] == value != defaults[core], field
    assert resolved["context"] == "/ctx"
    assert resolved["tags"] == ["app:1", "app:2"]
    # Every BuildOptions field but the nested pull options is set above.
    assert set(defaults) - {k.rstrip("_") for k in given} == {"context", "tags", "pull"}


@pytest.mark.usefixtures("resolve_only")
def test_cluster_options_arrive_in_the_core() -> None:
    cluster = idpkit.ClusterOptions(
        kubeconfig="/k/config", context="kind-x", host="g.example:8443", certs_d="/c"
    )
    expected: dict[str, Any] = {"kubeconfig": "/k/config", "context": "kind-x"}
    expected["host"] = "g.example:8443"
    expected["certs_d"] = "/c"
    with pytest.raises(Resolved) as seen:
        idpkit.login_from_cluster("g.example:8443", cluster)
    assert seen.value.resolved["cluster"] == expected
    with pytest.raises(Resolved) as seen:
        idpkit.trust_extract(**expected)
    assert seen.value.resolved == expected
    assert set(expected) == set(operation("trust_extract")["defaults"])


def test_unknown_or_mistyped_fields_are_named(store: idpkit.Store) -> None:
    with pytest.raises(TypeError, match="jobz"):
        store.push("app:1", jobz=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="bogus"):
        idpkit.list_tags("r.example/app", bogus=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="jobz"):
        idpkit.RegistryOptions(jobz=2)  # type: ignore[call-arg]
    # The core's strict parser names an unknown field at any depth and the allowed ones.
    with pytest.raises(idpkit.InvalidInputError, match="jobz") as err:
        idpkit.resolve_options("push", {"source": "a:1", "jobz": 2})
    assert "jobs" in str(err.value)
    with pytest.raises(idpkit.InvalidInputError, match="jobz"):
        idpkit.resolve_options("build", {"pull": {"jobz": 2}})
    with pytest.raises(idpkit.InvalidInputError, match="nope"):
        idpkit.resolve_options("nope")
    # A value of the wrong type is named too, before anything is sent.
    with pytest.raises(idpkit.InvalidInputError, match="jobs"):
        store.push("app:1", jobs="four")  # type: ignore[arg-type]
    with pytest.raises(idpkit.InvalidInputError, match="attempts"):
        idpkit.list_tags("r.example/app", attempts=-1)
