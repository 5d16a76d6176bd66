"""Plugin manager: built-in plugins, entry-point discovery and the component registries.

Built-ins are listed in :data:`DEFAULT_PLUGINS` and registered through the same hooks as
third-party packages, which are found through the ``clir_calib`` entry-point group. Loading is
lazy: nothing is imported until a registry is first asked for.

``CLIR_CALIB_LOAD_PLUGINS`` is an allow-list: when set (comma-separated entry-point or
distribution names), only those third-party plugins load; set it to the empty string to load none.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import pluggy

from clir_calib import hookspecs
from clir_calib.errors import ClirCalibError, ConfigError, UnknownPluginError

if TYPE_CHECKING:  # the component base classes live in higher layers; only their names are needed here
    from clir_calib.adapters.base import TransferAdapter
    from clir_calib.baselines import DocumentBaseline
    from clir_calib.calibrators.base import Calibrator
    from clir_calib.data.datasets import Dataset
    from clir_calib.losses.base import AlignmentLoss
    from clir_calib.models.providers import ModelProvider
    from clir_calib.pipeline.executors import StudyExecutor
    from clir_calib.report.sections import ReportSection

T = TypeVar("T")
ENTRY_POINT_GROUP = "clir_calib"
#: what a component name may look like: it becomes part of file names, so no separators, no "..", no spaces
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
ALLOW_LIST_VARIABLE = "CLIR_CALIB_LOAD_PLUGINS"

#: Modules shipped with clir-calib that implement hooks. Each registers its components.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "clir_calib.losses.builtin",
    "clir_calib.calibrators.builtin",
    "clir_calib.adapters.builtin",
    "clir_calib.maps.builtin",
    "clir_calib.models.builtin",
    "clir_calib.data.builtin",
    "clir_calib.pipeline.builtin_sections",
    "clir_calib.pipeline.executors",
)

pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
pm.add_hookspecs(hookspecs)

#: Third-party plugins that failed to load: entry-point name -> error message.
FAILED_PLUGINS: dict[str, str] = {}

_loaded = False


def load_plugins() -> None:
    """Register built-in and entry-point plugins once; later calls do nothing."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        if not pm.is_registered(module):
            pm.register(module, name=module_name)
    pm.check_pending()
    _load_entry_points()


def _allowed_third_party() -> set[str] | None:
    raw = os.environ.get(ALLOW_LIST_VARIABLE)
    if raw is None:
        return None
    return {item.strip() for item in raw.split(",") if item.strip()}


def _load_entry_points() -> None:
    allowed = _allowed_third_party()
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist_name = entry_point.dist.name if entry_point.dist is not None else ""
        if allowed is not None and entry_point.name not in allowed and dist_name not in allowed:
            continue
        if pm.get_plugin(entry_point.name) is not None:
            continue
        try:
            with contextlib.redirect_stdout(sys.stderr):  # stdout is the command's output (`plugins --json`)
                plugin = entry_point.load()
            pm.register(plugin, name=entry_point.name)
            pm.check_pending()  # a misspelt hook name is this plugin's fault: report it by name
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: B036 - SystemExit too: a broken plugin must not take the CLI down
            if pm.get_plugin(entry_point.name) is not None:
                pm.unregister(name=entry_point.name)
            FAILED_PLUGINS[entry_point.name] = f"failed at import: {_describe(error)}"
            continue
        _DIST_NAMES[entry_point.name] = dist_name


_DIST_NAMES: dict[str, str] = {}


def plugin_sources() -> list[dict[str, str]]:
    """Every registered plugin with where it comes from (built-in or a distribution)."""
    load_plugins()
    rows = []
    for name, plugin in pm.list_name_plugin():
        if name in FAILED_PLUGINS:
            continue  # failed in a hook call: listed once, below, with why
        if name in DEFAULT_PLUGINS:
            source = "built-in"
        else:
            source = _DIST_NAMES.get(name) or str(getattr(plugin, "__name__", "") or
                                                  f"in process ({type(plugin).__module__})")
        rows.append({"name": name, "source": source})
    rows.extend({"name": name, "source": f"FAILED ({msg})"} for name, msg in FAILED_PLUGINS.items())
    return rows


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    return f"{type(error).__name__}: {error}"


def is_builtin(plugin_name: str) -> bool:
    return plugin_name in DEFAULT_PLUGINS


def call_each(hook_name: str, on_success: Callable[[str], None] | None = None,
              on_failure: Callable[[str], None] | None = None, **kwargs: Any) -> None:
    """Call every implementation of ``hook_name`` on its own, built-ins first, in registration order.

    A third-party implementation that raises anything but :class:`KeyboardInterrupt` (``SystemExit``
    included) is recorded in :data:`FAILED_PLUGINS` under its plugin's name and skipped; the others
    still run. ``on_failure(plugin)`` undoes what it did; ``on_success(plugin)`` checks the result and
    may raise :class:`ClirCalibError` to refuse it (recorded the same way). A built-in that fails is a bug
    and raises.
    """
    load_plugins()
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    for impl in sorted(impls, key=lambda i: not is_builtin(i.plugin_name)):
        arguments = {name: kwargs[name] for name in impl.argnames}
        try:
            with contextlib.nullcontext() if is_builtin(impl.plugin_name) else contextlib.redirect_stdout(sys.stderr):
                impl.function(**arguments)
            if on_success is not None:
                on_success(impl.plugin_name)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: B036 - isolation is the point
            if is_builtin(impl.plugin_name):
                raise
            if on_failure is not None:
                on_failure(impl.plugin_name)
            refused = isinstance(error, ClirCalibError)
            FAILED_PLUGINS[impl.plugin_name] = str(error) if refused else f"{hook_name} {_describe(error)}"


def _collect(hook_name: str, key: Callable[[Any], str], kind: str) -> dict[str, Any]:
    """The components every plugin registers through ``hook_name``, by name.

    A third-party plugin may not replace a built-in name (it is refused, by name); two third-party
    plugins registering one name is an error, since neither can be preferred.
    """
    found: dict[str, Any] = {}
    owner: dict[str, str] = {}
    pending: dict[str, Any] = {}
    clashes: list[ClirCalibError] = []

    def register(component: Any) -> None:
        name = key(component)
        if not name:
            raise ClirCalibError(f"a {kind} plugin registered {component!r} without a name")
        if not SAFE_NAME.fullmatch(name):  # names become parts of output paths (calibrators/NAME.json ...)
            raise ClirCalibError(f"the {kind} name {name!r} may hold only letters, digits and . _ + - "
                                 "(and start with a letter or digit); rename it")
        pending[name] = component

    def keep(plugin: str) -> None:
        for name, component in pending.items():
            if name in found and found[name] is not component:
                if is_builtin(owner[name]) and not is_builtin(plugin):
                    pending.clear()
                    raise ClirCalibError(f"plugin {plugin!r} registers the {kind} {name!r}, a built-in name; "
                                         "it was skipped: rename its component")
                clashes.append(ConfigError(
                    f"two plugins register the {kind} {name!r}: {owner[name]!r} and {plugin!r}; "
                    f"uninstall one or restrict plugins with {ALLOW_LIST_VARIABLE}"))
        for name, component in pending.items():
            found[name], owner[name] = component, plugin
        pending.clear()

    call_each(hook_name, on_success=keep, on_failure=lambda plugin: pending.clear(), register=register)
    if clashes:
        raise clashes[0]
    return dict(sorted(found.items()))


def _by_name(component: Any) -> str:
    return str(getattr(component, "name", ""))


class Registry(Generic[T]):
    """The components one hook registers, by name: ``all()`` and ``get(name)`` (unknown names list the choices).

    One typed registry per kind replaces a pair of getters per kind; ``T`` is the component's base class
    (``Registry[type[AlignmentLoss]]`` and so on), so callers get typed classes back.
    """

    def __init__(self, hook: str, kind: str) -> None:
        self.hook, self.kind = hook, kind

    def all(self) -> dict[str, T]:
        return _collect(self.hook, _by_name, self.kind)

    def get(self, name: str) -> T:
        return cast(T, _lookup(self.all(), self.kind, name))

    def names(self) -> list[str]:
        return list(self.all())


ALIGNMENT_LOSSES: Registry[type[AlignmentLoss]] = Registry("register_alignment_losses", "alignment loss")
CALIBRATORS: Registry[type[Calibrator]] = Registry("register_calibrators", "calibrator")
TRANSFER_ADAPTERS: Registry[type[TransferAdapter]] = Registry("register_transfer_adapters", "transfer adapter")
BASELINES: Registry[type[DocumentBaseline]] = Registry("register_baselines", "baseline")
MODEL_PROVIDERS: Registry[ModelProvider] = Registry("register_model_providers", "model provider")
DATASETS: Registry[type[Dataset]] = Registry("register_datasets", "dataset")
REPORT_SECTIONS: Registry[type[ReportSection]] = Registry("register_report_sections", "report section")
EXECUTORS: Registry[type[StudyExecutor]] = Registry("register_executors", "executor")


def chosen_components(getter: Callable[[str], Any], names: Any, params: Any, setting: str,
                      kind: str) -> dict[str, Any]:
    """The classes ``getter`` returns for ``names``, with ``params`` (name -> parameters) checked: naming a
    component not in use, or a parameter it does not declare, is a one-line :class:`ConfigError`."""
    classes = {name: getter(name) for name in names}
    given = dict(params or {})
    stray = sorted(set(given) - set(classes))
    if stray:
        raise ConfigError(f"{setting} names {kind}(s) not in use: {', '.join(stray)}; add them or drop their parameters")
    for name, cls in classes.items():
        cls.resolve_params(given.get(name))
    return classes


def _lookup(registry: dict[str, Any], kind: str, name: str) -> Any:
    try:
        return registry[name]
    except KeyError:
        raise UnknownPluginError(kind, name, registry) from None
